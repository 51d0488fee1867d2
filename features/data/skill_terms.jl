{"id": "deep_learning", "zh": ["深度学习"], "en": ["deep learning", "deep neural network", "deep neural networks"], "industry": "ai", "broader": ["machine_learning"]}
{"id": "machine_learning", "zh": ["机器学习"], "en": ["machine learning"], "industry": "ai"}
{"id": "neural_network", "zh": ["神经网络"], "en": ["neural network", "neural networks"], "industry": "ai", "broader": ["machine_learning"]}
{"id": "computer_vision", "zh": ["计算机视觉", "机器视觉"], "en": ["computer vision", "machine vision"], "industry": "ai"}
{"id": "image_recognition", "zh": ["图像识别"], "en": ["image recognition"], "industry": "ai", "broader": ["computer_vision"]}
{"id": "object_detection", "zh": ["目标检测"], "en": ["object detection"], "industry": "ai", "broader": ["computer_vision"]}
{"id": "nlp", "zh": ["自然语言处理"], "en": ["natural language processing", "nlp"], "industry": "ai"}
{"id": "large_language_model", "zh": ["大语言模型", "大模型"], "en": ["large language model", "large language models", "llm", "llms"], "industry": "ai", "broader": ["nlp"]}
{"id": "speech_recognition", "zh": ["语音识别"], "en": ["speech recognition"], "industry": "ai"}
{"id": "reinforcement_learning", "zh": ["强化学习"], "en": ["reinforcement learning"], "industry": "ai", "broader": ["machine_learning"]}
{"id": "knowledge_graph", "zh": ["知识图谱"], "en": ["knowledge graph", "knowledge graphs"], "industry": "ai"}
{"id": "recommender_system", "zh": ["推荐系统"], "en": ["recommender system", "recommendation system"], "industry": "ai"}
{"id": "transformer_model", "zh": ["Transformer模型"], "en": ["transformer model", "transformer models", "transformers"], "industry": "ai", "broader": ["deep_learning"]}
{"id": "pytorch", "zh": ["PyTorch"], "en": ["pytorch"], "industry": "ai", "broader": ["deep_learning"]}
{"id": "tensorflow", "zh": ["TensorFlow"], "en": ["tensorflow"], "industry": "ai", "broader": ["deep_learning"]}
{"id": "data_mining", "zh": ["数据挖掘"], "en": ["data mining"], "industry": "digital_economy"}
{"id": "big_data", "zh": ["大数据"], "en": ["big data"], "industry": "digital_economy"}
{"id": "data_analysis", "zh": ["数据分析"], "en": ["data analysis", "data analytics"], "industry": "digital_economy"}
{"id": "cloud_computing", "zh": ["云计算"], "en": ["cloud computing"], "industry": "digital_economy"}
{"id": "edge_computing", "zh": ["边缘计算"], "en": ["edge computing"], "industry": "iot"}
{"id": "blockchain", "zh": ["区块链"], "en": ["blockchain"], "industry": "digital_economy"}
{"id": "cybersecurity", "zh": ["网络安全", "信息安全"], "en": ["cybersecurity", "network security", "information security"], "industry": "software"}
{"id": "cryptography", "zh": ["密码学"], "en": ["cryptography"], "industry": "software"}
{"id": "distributed_systems", "zh": ["分布式系统"], "en": ["distributed systems", "distributed system"], "industry": "software"}
{"id": "database", "zh": ["数据库"], "en": ["database", "databases"], "industry": "software"}
{"id": "software_engineering", "zh": ["软件工程"], "en": ["software engineering"], "industry": "software"}
{"id": "embedded_software", "zh": ["嵌入式软件", "嵌入式系统"], "en": ["embedded software", "embedded systems", "embedded system"], "industry": "software"}
{"id": "operating_system", "zh": ["操作系统"], "en": ["operating system", "operating systems"], "industry": "software"}
{"id": "python", "zh": ["Python"], "en": ["python"], "industry": "software"}
{"id": "cpp", "zh": ["C++"], "en": ["c++"], "industry": "software"}
{"id": "java", "zh": ["Java"], "en": ["java"], "industry": "software"}
{"id": "industrial_software", "zh": ["工业软件"], "en": ["industrial software"], "industry": "software"}
{"id": "digital_twin", "zh": ["数字孪生"], "en": ["digital twin", "digital twins"], "industry": "intelligent_manufacturing"}
{"id": "robotics", "zh": ["机器人"], "en": ["robotics", "robot", "robots"], "industry": "intelligent_manufacturing"}
{"id": "industrial_robot", "zh": ["工业机器人"], "en": ["industrial robot", "industrial robots"], "industry": "intelligent_manufacturing", "broader": ["robotics"]}
{"id": "automation", "zh": ["自动化"], "en": ["automation"], "industry": "intelligent_manufacturing"}
{"id": "motion_control", "zh": ["运动控制"], "en": ["motion control"], "industry": "intelligent_manufacturing"}
{"id": "plc", "zh": ["可编程逻辑控制器", "PLC"], "en": ["programmable logic controller", "plc"], "industry": "intelligent_manufacturing", "broader": ["automation"]}
{"id": "industrial_internet", "zh": ["工业互联网"], "en": ["industrial internet"], "industry": "intelligent_manufacturing"}
{"id": "smart_factory", "zh": ["智能工厂"], "en": ["smart factory", "smart factories"], "industry": "intelligent_manufacturing"}
{"id": "predictive_maintenance", "zh": ["预测性维护"], "en": ["predictive maintenance"], "industry": "intelligent_manufacturing"}
{"id": "cnc_machining", "zh": ["数控加工", "数控机床"], "en": ["cnc machining", "cnc machine tools", "cnc"], "industry": "high_end_equipment"}
{"id": "precision_machining", "zh": ["精密加工"], "en": ["precision machining"], "industry": "high_end_equipment"}
{"id": "additive_manufacturing", "zh": ["增材制造", "3D打印"], "en": ["additive manufacturing", "3d printing"], "industry": "high_end_equipment"}
{"id": "mechanical_design", "zh": ["机械设计"], "en": ["mechanical design"], "industry": "high_end_equipment"}
{"id": "hydraulics", "zh": ["液压"], "en": ["hydraulics", "hydraulic"], "industry": "high_end_equipment"}
{"id": "servo_motor", "zh": ["伺服电机"], "en": ["servo motor", "servo motors"], "industry": "high_end_equipment"}
{"id": "laser_processing", "zh": ["激光加工"], "en": ["laser processing", "laser machining"], "industry": "high_end_equipment"}
{"id": "nondestructive_testing", "zh": ["无损检测"], "en": ["nondestructive testing", "non destructive testing"], "industry": "high_end_equipment"}
{"id": "semiconductor", "zh": ["半导体"], "en": ["semiconductor", "semiconductors"], "industry": "semiconductors"}
{"id": "integrated_circuit", "zh": ["集成电路", "芯片"], "en": ["integrated circuit", "integrated circuits", "chip", "chips"], "industry": "semiconductors"}
{"id": "ic_design", "zh": ["集成电路设计", "芯片设计"], "en": ["ic design", "integrated circuit design", "chip design"], "industry": "semiconductors", "broader": ["integrated_circuit"]}
{"id": "analog_ic", "zh": ["模拟集成电路", "模拟电路设计"], "en": ["analog ic", "analog circuit design", "analog integrated circuit"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "rf_ic", "zh": ["射频集成电路", "射频芯片"], "en": ["rf ic", "rfic", "rf integrated circuit"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "digital_ic", "zh": ["数字集成电路", "数字电路设计"], "en": ["digital ic", "digital circuit design"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "eda", "zh": ["电子设计自动化", "EDA"], "en": ["electronic design automation", "eda"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "verilog", "zh": ["Verilog"], "en": ["verilog", "systemverilog"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "fpga", "zh": ["FPGA", "现场可编程门阵列"], "en": ["fpga", "field programmable gate array"], "industry": "semiconductors"}
{"id": "asic", "zh": ["专用集成电路", "ASIC"], "en": ["asic", "application specific integrated circuit"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "soc", "zh": ["片上系统", "SoC"], "en": ["system on chip", "soc"], "industry": "semiconductors", "broader": ["ic_design"]}
{"id": "lithography", "zh": ["光刻"], "en": ["lithography", "photolithography"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "euv", "zh": ["极紫外光刻", "EUV"], "en": ["extreme ultraviolet lithography", "euv"], "industry": "semiconductors", "broader": ["lithography"]}
{"id": "photoresist", "zh": ["光刻胶"], "en": ["photoresist", "photoresists"], "industry": "semiconductors", "broader": ["lithography"]}
{"id": "etching", "zh": ["刻蚀"], "en": ["etching", "plasma etching", "dry etching"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "thin_film_deposition", "zh": ["薄膜沉积"], "en": ["thin film deposition", "deposition"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "cvd", "zh": ["化学气相沉积", "CVD"], "en": ["chemical vapor deposition", "cvd"], "industry": "semiconductors", "broader": ["thin_film_deposition"]}
{"id": "ald", "zh": ["原子层沉积"], "en": ["atomic layer deposition", "ald"], "industry": "semiconductors", "broader": ["thin_film_deposition"]}
{"id": "wafer_fab", "zh": ["晶圆制造", "晶圆"], "en": ["wafer fabrication", "wafer", "wafers"], "industry": "semiconductors", "broader": ["semiconductor"]}
{"id": "chip_packaging", "zh": ["芯片封装", "先进封装", "封装测试"], "en": ["chip packaging", "advanced packaging", "ic packaging"], "industry": "semiconductors", "broader": ["semiconductor"]}
{"id": "cmp", "zh": ["化学机械抛光"], "en": ["chemical mechanical polishing", "cmp"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "ion_implantation", "zh": ["离子注入"], "en": ["ion implantation"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "process_integration", "zh": ["工艺整合", "工艺集成"], "en": ["process integration"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "yield_improvement", "zh": ["良率提升"], "en": ["yield improvement", "yield enhancement"], "industry": "semiconductors", "broader": ["wafer_fab"]}
{"id": "defect_inspection", "zh": ["缺陷检测"], "en": ["defect detection", "defect inspection"], "industry": "semiconductors"}
{"id": "metrology", "zh": ["量测", "计量"], "en": ["metrology"], "industry": "semiconductors"}
{"id": "semiconductor_equipment", "zh": ["半导体设备"], "en": ["semiconductor equipment"], "industry": "semiconductors", "broader": ["semiconductor"]}
{"id": "gan", "zh": ["氮化镓", "GaN"], "en": ["gallium nitride", "gan"], "industry": "semiconductors", "broader": ["wide_bandgap"]}
{"id": "sic", "zh": ["碳化硅", "SiC"], "en": ["silicon carbide", "sic"], "industry": "semiconductors", "broader": ["wide_bandgap"]}
{"id": "wide_bandgap", "zh": ["宽禁带半导体", "第三代半导体"], "en": ["wide bandgap semiconductor", "wide bandgap"], "industry": "semiconductors", "broader": ["semiconductor"]}
{"id": "power_device", "zh": ["功率器件", "功率半导体"], "en": ["power device", "power devices", "power semiconductor"], "industry": "semiconductors", "broader": ["semiconductor"]}
{"id": "igbt", "zh": ["绝缘栅双极型晶体管", "IGBT"], "en": ["igbt", "insulated gate bipolar transistor"], "industry": "semiconductors", "broader": ["power_device"]}
{"id": "mosfet", "zh": ["MOSFET"], "en": ["mosfet", "mosfets"], "industry": "semiconductors", "broader": ["power_device"]}
{"id": "cmos", "zh": ["CMOS"], "en": ["cmos"], "industry": "semiconductors", "broader": ["integrated_circuit"]}
{"id": "memory_chip", "zh": ["存储芯片", "存储器"], "en": ["memory chip", "memory chips", "dram", "nand flash"], "industry": "semiconductors", "broader": ["integrated_circuit"]}
{"id": "mems", "zh": ["微机电系统", "MEMS"], "en": ["mems", "microelectromechanical systems"], "industry": "sensors"}
{"id": "image_sensor", "zh": ["图像传感器"], "en": ["image sensor", "image sensors", "cmos image sensor"], "industry": "sensors"}
{"id": "gas_sensor", "zh": ["气体传感器"], "en": ["gas sensor", "gas sensors"], "industry": "sensors"}
{"id": "pressure_sensor", "zh": ["压力传感器"], "en": ["pressure sensor", "pressure sensors"], "industry": "sensors"}
{"id": "biosensor", "zh": ["生物传感器"], "en": ["biosensor", "biosensors"], "industry": "sensors"}
{"id": "lidar", "zh": ["激光雷达"], "en": ["lidar"], "industry": "sensors"}
{"id": "sensor_fusion", "zh": ["传感器融合", "多传感器融合"], "en": ["sensor fusion"], "industry": "sensors"}
{"id": "photovoltaic", "zh": ["光伏"], "en": ["photovoltaic", "photovoltaics", "pv"], "industry": "photovoltaics"}
{"id": "solar_cell", "zh": ["太阳能电池", "太阳电池"], "en": ["solar cell", "solar cells"], "industry": "photovoltaics", "broader": ["photovoltaic"]}
{"id": "perovskite", "zh": ["钙钛矿"], "en": ["perovskite", "perovskites"], "industry": "photovoltaics"}
{"id": "perovskite_solar_cell", "zh": ["钙钛矿太阳能电池", "钙钛矿电池"], "en": ["perovskite solar cell", "perovskite solar cells", "perovskite cell"], "industry": "photovoltaics", "broader": ["perovskite", "solar_cell"]}
{"id": "heterojunction_cell", "zh": ["异质结电池", "HJT"], "en": ["heterojunction solar cell", "hjt"], "industry": "photovoltaics", "broader": ["solar_cell"]}
{"id": "topcon", "zh": ["TOPCon"], "en": ["topcon"], "industry": "photovoltaics", "broader": ["solar_cell"]}
{"id": "silicon_wafer", "zh": ["硅片", "单晶硅"], "en": ["silicon wafer", "monocrystalline silicon"], "industry": "photovoltaics", "broader": ["photovoltaic"]}
{"id": "pv_module", "zh": ["光伏组件"], "en": ["pv module", "solar module", "photovoltaic module"], "industry": "photovoltaics", "broader": ["photovoltaic"]}
{"id": "inverter", "zh": ["逆变器"], "en": ["inverter", "inverters"], "industry": "new_energy"}
{"id": "energy_storage", "zh": ["储能"], "en": ["energy storage"], "industry": "new_energy"}
{"id": "lithium_battery", "zh": ["锂电池", "锂离子电池"], "en": ["lithium battery", "lithium ion battery", "li ion battery", "lithium batteries"], "industry": "new_energy", "broader": ["battery"]}
{"id": "battery", "zh": ["电池"], "en": ["battery", "batteries"], "industry": "new_energy"}
{"id": "solid_state_battery", "zh": ["固态电池"], "en": ["solid state battery", "solid state batteries"], "industry": "new_energy", "broader": ["battery"]}
{"id": "sodium_ion_battery", "zh": ["钠离子电池"], "en": ["sodium ion battery", "sodium ion batteries"], "industry": "new_energy", "broader": ["battery"]}
{"id": "cathode_material", "zh": ["正极材料"], "en": ["cathode material", "cathode materials"], "industry": "new_energy", "broader": ["battery"]}
{"id": "anode_material", "zh": ["负极材料"], "en": ["anode material", "anode materials"], "industry": "new_energy", "broader": ["battery"]}
{"id": "electrolyte", "zh": ["电解质", "电解液"], "en": ["electrolyte", "electrolytes"], "industry": "new_energy", "broader": ["battery"]}
{"id": "bms", "zh": ["电池管理系统"], "en": ["battery management system", "bms"], "industry": "new_energy", "broader": ["battery"]}
{"id": "electric_vehicle", "zh": ["新能源汽车", "电动汽车"], "en": ["electric vehicle", "electric vehicles", "ev"], "industry": "new_energy"}
{"id": "motor_drive", "zh": ["电机驱动", "电机控制"], "en": ["motor drive", "motor control"], "industry": "new_energy"}
{"id": "power_electronics", "zh": ["电力电子"], "en": ["power electronics"], "industry": "new_energy"}
{"id": "smart_grid", "zh": ["智能电网"], "en": ["smart grid"], "industry": "new_energy"}
{"id": "wind_power", "zh": ["风电", "风力发电"], "en": ["wind power", "wind energy", "wind turbine"], "industry": "new_energy"}
{"id": "charging_pile", "zh": ["充电桩"], "en": ["charging pile", "ev charging", "charging station"], "industry": "new_energy", "broader": ["electric_vehicle"]}
{"id": "hydrogen_fuel_cell", "zh": ["氢燃料电池", "燃料电池"], "en": ["hydrogen fuel cell", "fuel cell", "fuel cells"], "industry": "hydrogen", "broader": ["hydrogen_energy"]}
{"id": "hydrogen_energy", "zh": ["氢能", "氢气"], "en": ["hydrogen energy", "hydrogen"], "industry": "hydrogen"}
{"id": "pemfc", "zh": ["质子交换膜燃料电池"], "en": ["proton exchange membrane fuel cell", "pemfc"], "industry": "hydrogen", "broader": ["hydrogen_fuel_cell"]}
{"id": "electrolysis", "zh": ["电解水制氢", "电解槽"], "en": ["water electrolysis", "electrolyzer", "electrolysis"], "industry": "hydrogen", "broader": ["hydrogen_energy"]}
{"id": "hydrogen_storage", "zh": ["储氢"], "en": ["hydrogen storage"], "industry": "hydrogen", "broader": ["hydrogen_energy"]}
{"id": "catalyst", "zh": ["催化剂"], "en": ["catalyst", "catalysts", "catalysis"], "industry": "new_materials"}
{"id": "graphene", "zh": ["石墨烯"], "en": ["graphene"], "industry": "new_materials"}
{"id": "carbon_fiber", "zh": ["碳纤维"], "en": ["carbon fiber", "carbon fibre", "carbon fibers"], "industry": "new_materials", "broader": ["composite"]}
{"id": "composite", "zh": ["复合材料"], "en": ["composite material", "composite materials", "composites"], "industry": "new_materials"}
{"id": "polymer", "zh": ["高分子材料", "聚合物"], "en": ["polymer", "polymers", "polymer materials"], "industry": "new_materials"}
{"id": "nanomaterial", "zh": ["纳米材料"], "en": ["nanomaterial", "nanomaterials"], "industry": "new_materials"}
{"id": "ceramic", "zh": ["陶瓷材料", "陶瓷"], "en": ["ceramic", "ceramics"], "industry": "new_materials"}
{"id": "alloy", "zh": ["合金"], "en": ["alloy", "alloys"], "industry": "new_materials"}
{"id": "coating", "zh": ["涂层"], "en": ["coating", "coatings"], "industry": "new_materials"}
{"id": "thin_film", "zh": ["薄膜"], "en": ["thin film", "thin films"], "industry": "new_materials"}
{"id": "materials_characterization", "zh": ["材料表征"], "en": ["materials characterization"], "industry": "new_materials"}
{"id": "xrd", "zh": ["X射线衍射"], "en": ["x ray diffraction", "xrd"], "industry": "new_materials", "broader": ["materials_characterization"]}
{"id": "electron_microscopy", "zh": ["电子显微镜", "透射电镜", "扫描电镜"], "en": ["electron microscopy", "tem", "sem"], "industry": "new_materials", "broader": ["materials_characterization"]}
{"id": "fluorine_material", "zh": ["氟材料", "含氟材料"], "en": ["fluorinated materials", "fluoropolymer"], "industry": "new_materials"}
{"id": "flexible_electronics", "zh": ["柔性电子"], "en": ["flexible electronics"], "industry": "flexible_electronics"}
{"id": "flexible_display", "zh": ["柔性显示"], "en": ["flexible display", "flexible displays"], "industry": "flexible_electronics", "broader": ["display"]}
{"id": "oled", "zh": ["有机发光二极管", "OLED"], "en": ["oled", "organic light emitting diode"], "industry": "flexible_electronics", "broader": ["display"]}
{"id": "display", "zh": ["显示技术", "显示面板"], "en": ["display technology", "display panel"], "industry": "flexible_electronics"}
{"id": "printed_electronics", "zh": ["印刷电子"], "en": ["printed electronics"], "industry": "flexible_electronics"}
{"id": "wearable_device", "zh": ["可穿戴设备"], "en": ["wearable device", "wearable devices", "wearables"], "industry": "flexible_electronics"}
{"id": "stretchable_electronics", "zh": ["可拉伸电子"], "en": ["stretchable electronics"], "industry": "flexible_electronics"}
{"id": "communication_5g", "zh": ["5G通信", "5G"], "en": ["5g", "5g communication"], "industry": "communications"}
{"id": "optical_communication", "zh": ["光通信"], "en": ["optical communication", "optical communications"], "industry": "communications"}
{"id": "antenna", "zh": ["天线"], "en": ["antenna", "antennas"], "industry": "communications"}
{"id": "rf", "zh": ["射频"], "en": ["radio frequency", "rf"], "industry": "communications"}
{"id": "signal_processing", "zh": ["信号处理"], "en": ["signal processing"], "industry": "communications"}
{"id": "wireless_communication", "zh": ["无线通信"], "en": ["wireless communication", "wireless communications"], "industry": "communications"}
{"id": "satellite_communication", "zh": ["卫星通信"], "en": ["satellite communication", "satellite communications"], "industry": "aerospace"}
{"id": "millimeter_wave", "zh": ["毫米波"], "en": ["millimeter wave", "mmwave"], "industry": "communications"}
{"id": "optical_fiber", "zh": ["光纤"], "en": ["optical fiber", "optical fibre", "fiber optics"], "industry": "communications"}
{"id": "photonics", "zh": ["光子学", "光电子"], "en": ["photonics", "optoelectronics"], "industry": "communications"}
{"id": "silicon_photonics", "zh": ["硅光子", "硅光"], "en": ["silicon photonics"], "industry": "communications", "broader": ["photonics"]}
{"id": "laser", "zh": ["激光器", "激光"], "en": ["laser", "lasers"], "industry": "high_end_equipment"}
{"id": "iot_device", "zh": ["物联网设备"], "en": ["iot device", "iot devices"], "industry": "iot"}
{"id": "iot", "zh": ["物联网"], "en": ["iot", "internet of things"], "industry": "iot"}
{"id": "rfid", "zh": ["射频识别"], "en": ["rfid", "radio frequency identification"], "industry": "iot"}
{"id": "wireless_sensor_network", "zh": ["无线传感网络"], "en": ["wireless sensor network", "wireless sensor networks"], "industry": "iot"}
{"id": "smart_home", "zh": ["智能家居"], "en": ["smart home"], "industry": "iot"}
{"id": "aircraft_design", "zh": ["飞行器设计", "飞机设计"], "en": ["aircraft design"], "industry": "aerospace"}
{"id": "uav", "zh": ["无人机"], "en": ["uav", "unmanned aerial vehicle", "drone", "drones"], "industry": "aerospace"}
{"id": "satellite", "zh": ["卫星"], "en": ["satellite", "satellites"], "industry": "aerospace"}
{"id": "aero_engine", "zh": ["航空发动机"], "en": ["aero engine", "aircraft engine"], "industry": "aerospace"}
{"id": "avionics", "zh": ["航空电子"], "en": ["avionics"], "industry": "aerospace"}
{"id": "navigation", "zh": ["导航", "导航定位"], "en": ["navigation"], "industry": "aerospace"}
{"id": "gnc", "zh": ["制导与控制"], "en": ["guidance and control", "guidance navigation and control"], "industry": "aerospace"}
{"id": "aerodynamics", "zh": ["空气动力学"], "en": ["aerodynamics"], "industry": "aerospace"}
{"id": "cfd", "zh": ["计算流体力学"], "en": ["computational fluid dynamics", "cfd"], "industry": "aerospace"}
{"id": "finite_element", "zh": ["有限元分析", "有限元"], "en": ["finite element analysis", "finite element", "fea"], "industry": "high_end_equipment"}
{"id": "autonomous_driving", "zh": ["自动驾驶", "无人驾驶"], "en": ["autonomous driving", "self driving", "autonomous vehicles"], "industry": "ai"}
{"id": "slam", "zh": ["同步定位与建图", "SLAM"], "en": ["slam", "simultaneous localization and mapping"], "industry": "ai", "broader": ["robotics"]}
{"id": "control_theory", "zh": ["控制理论", "控制系统"], "en": ["control theory", "control systems", "control system"], "industry": "intelligent_manufacturing"}
{"id": "drug_discovery", "zh": ["药物研发", "新药研发", "药物发现"], "en": ["drug discovery", "drug development"], "industry": "life_health"}
{"id": "biopharmaceutical", "zh": ["生物医药", "生物制药"], "en": ["biopharmaceutical", "biopharmaceuticals", "biopharma"], "industry": "life_health"}
{"id": "antibody", "zh": ["抗体", "单克隆抗体"], "en": ["antibody", "antibodies", "monoclonal antibody"], "industry": "life_health", "broader": ["biopharmaceutical"]}
{"id": "vaccine", "zh": ["疫苗"], "en": ["vaccine", "vaccines"], "industry": "life_health", "broader": ["biopharmaceutical"]}
{"id": "gene_editing", "zh": ["基因编辑"], "en": ["gene editing", "crispr"], "industry": "life_health"}
{"id": "genomics", "zh": ["基因组学"], "en": ["genomics"], "industry": "life_health"}
{"id": "cell_therapy", "zh": ["细胞治疗"], "en": ["cell therapy"], "industry": "life_health"}
{"id": "car_t", "zh": ["CAR-T"], "en": ["car t"], "industry": "life_health", "broader": ["cell_therapy"]}
{"id": "medical_device", "zh": ["医疗器械"], "en": ["medical device", "medical devices"], "industry": "life_health"}
{"id": "medical_imaging", "zh": ["医学影像"], "en": ["medical imaging"], "industry": "life_health"}
{"id": "in_vitro_diagnostics", "zh": ["体外诊断"], "en": ["in vitro diagnostics", "ivd"], "industry": "life_health"}
{"id": "bioinformatics", "zh": ["生物信息学"], "en": ["bioinformatics"], "industry": "life_health"}
{"id": "clinical_trial", "zh": ["临床试验"], "en": ["clinical trial", "clinical trials"], "industry": "life_health"}
{"id": "pharmacology", "zh": ["药理学"], "en": ["pharmacology"], "industry": "life_health"}
{"id": "synthetic_biology", "zh": ["合成生物学"], "en": ["synthetic biology"], "industry": "life_health"}
{"id": "protein_engineering", "zh": ["蛋白质工程"], "en": ["protein engineering"], "industry": "life_health"}
{"id": "tissue_engineering", "zh": ["组织工程"], "en": ["tissue engineering"], "industry": "life_health"}
{"id": "biomaterial", "zh": ["生物材料"], "en": ["biomaterial", "biomaterials"], "industry": "life_health"}
{"id": "traditional_chinese_medicine", "zh": ["中医药", "中医"], "en": ["traditional chinese medicine", "tcm"], "industry": "life_health"}
{"id": "digital_health", "zh": ["数字医疗", "智慧医疗"], "en": ["digital health", "smart healthcare"], "industry": "life_health"}
{"id": "fintech", "zh": ["金融科技"], "en": ["fintech", "financial technology"], "industry": "digital_economy"}
{"id": "e_commerce", "zh": ["电子商务", "电商"], "en": ["e commerce", "ecommerce"], "industry": "digital_economy"}
{"id": "digital_transformation", "zh": ["数字化转型"], "en": ["digital transformation"], "industry": "digital_economy"}
{"id": "quantum_computing", "zh": ["量子计算"], "en": ["quantum computing"], "industry": "digital_economy"}
{"id": "quantum_communication", "zh": ["量子通信"], "en": ["quantum communication"], "industry": "communications"}
{"id": "high_performance_computing", "zh": ["高性能计算"], "en": ["high performance computing", "hpc"], "industry": "digital_economy"}
{"id": "chemical_engineering", "zh": ["化学工程", "化工"], "en": ["chemical engineering"], "industry": "new_materials"}
{"id": "process_engineering", "zh": ["工艺工程"], "en": ["process engineering"], "industry": "intelligent_manufacturing"}
{"id": "quality_control", "zh": ["质量控制", "质量管理"], "en": ["quality control", "quality management"], "industry": "intelligent_manufacturing"}
{"id": "supply_chain", "zh": ["供应链"], "en": ["supply chain"], "industry": "digital_economy"}
{"id": "lean_manufacturing", "zh": ["精益生产"], "en": ["lean manufacturing", "lean production"], "industry": "intelligent_manufacturing"}
{"id": "thermal_management", "zh": ["热管理"], "en": ["thermal management"], "industry": "new_energy"}
{"id": "optical_design", "zh": ["光学设计"], "en": ["optical design"], "industry": "high_end_equipment"}
{"id": "precision_instrument", "zh": ["精密仪器"], "en": ["precision instrument", "precision instruments"], "industry": "high_end_equipment"}
{"id": "vacuum_technology", "zh": ["真空技术"], "en": ["vacuum technology"], "industry": "semiconductors"}
{"id": "packaging_material", "zh": ["封装材料"], "en": ["packaging material", "packaging materials"], "industry": "semiconductors", "broader": ["chip_packaging"]}
{"id": "electronic_materials", "zh": ["电子材料"], "en": ["electronic materials"], "industry": "new_materials"}
{"id": "magnetic_materials", "zh": ["磁性材料"], "en": ["magnetic materials"], "industry": "new_materials"}
{"id": "rare_earth", "zh": ["稀土"], "en": ["rare earth", "rare earths"], "industry": "new_materials"}
{"id": "membrane_separation", "zh": ["膜分离"], "en": ["membrane separation"], "industry": "new_materials"}
{"id": "textile_material", "zh": ["纺织材料", "功能纤维"], "en": ["textile materials", "functional fibers"], "industry": "new_materials"}
{"id": "project_management", "zh": ["项目管理"], "en": ["project management"], "industry": "digital_economy"}
{"id": "technology_transfer", "zh": ["技术转移", "成果转化"], "en": ["technology transfer"], "industry": "digital_economy"}
