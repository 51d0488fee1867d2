"""The demo world: a synthetic but domain-true Jiaxing talent market, with a hidden "true relevance".

Why it exists: the ranker needs data with a known right answer. The generator first draws *latent* attributes (a
talent's true expertise and strengths, willingness to move, a need's true requirements), computes the true relevance
of every talent to every need from those alone, and only then renders the observable records with realistic noise
(omissions, vague summaries, synonyms, the other language). Ranking well therefore means reading the records well.

Only ``service/cli.py`` (lazily), the tests and the benchmarks may import this module: it holds the truth.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import scipy.sparse as sp

from features.records import (
    Degree,
    Enterprise,
    FeedbackAction,
    FeedbackEvent,
    Incubator,
    Need,
    NeedKind,
    NeedStatus,
    Platform,
    Record,
    Site,
    Talent,
    Tier,
    WorkKind,
    dump,
)
from features.taxonomy import INDUSTRY_NAMES, Industry, disciplines

Progress = Callable[[str, int, int], None]
I = Industry  # noqa: E741 - keeps the vocabulary tables below readable

TRUTH_FILE = "truth.jsonl"

# --------------------------------------------------------------------------------------------------------------------
# Vocabulary: expertise areas, each with its industries, NSFC codes and bilingual skills.
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AreaSpec:
    key: str
    zh: str
    en: str
    industries: tuple[Industry, ...]
    nsfc: tuple[str, ...]
    skills: tuple[str, ...]  # "zh|en|synonym|…"


_AREAS: tuple[_AreaSpec, ...] = (
    _AreaSpec(
        "ml",
        "机器学习",
        "machine learning",
        (I.ai,),
        ("F0305", "F0304"),
        (
            "深度学习|deep learning|深度神经网络|DL",
            "机器学习|machine learning|统计学习|ML",
            "强化学习|reinforcement learning|RL",
            "图神经网络|graph neural networks|GNN",
            "迁移学习|transfer learning",
            "联邦学习|federated learning",
            "大语言模型|large language models|大模型|LLM",
            "模型压缩|model compression|模型剪枝",
        ),
    ),
    _AreaSpec(
        "cv",
        "计算机视觉",
        "computer vision",
        (I.ai, I.intelligent_manufacturing),
        ("F0116", "F0115"),
        (
            "计算机视觉|computer vision|机器视觉|CV",
            "目标检测|object detection",
            "图像分割|image segmentation|语义分割",
            "三维重建|3D reconstruction",
            "人脸识别|face recognition",
            "视频分析|video analytics",
            "工业视觉检测|industrial visual inspection|缺陷检测|defect detection",
            "图像处理|image processing",
        ),
    ),
    _AreaSpec(
        "nlp",
        "自然语言处理",
        "natural language processing",
        (I.ai, I.software),
        ("F0206",),
        (
            "自然语言处理|natural language processing|NLP",
            "机器翻译|machine translation",
            "知识图谱|knowledge graph",
            "信息抽取|information extraction|命名实体识别|NER",
            "语音识别|speech recognition|ASR",
            "对话系统|dialogue systems|chatbot",
            "文本分类|text classification",
            "检索增强生成|retrieval-augmented generation|RAG",
        ),
    ),
    _AreaSpec(
        "robotics",
        "机器人",
        "robotics",
        (I.ai, I.intelligent_manufacturing),
        ("F0306", "E0501"),
        (
            "机器人控制|robot control",
            "运动规划|motion planning|路径规划",
            "同步定位与建图|SLAM",
            "机械臂|robotic arms|manipulator",
            "人形机器人|humanoid robots",
            "多传感器融合|multi-sensor fusion",
            "自动驾驶|autonomous driving|无人驾驶",
            "机器人操作系统|ROS",
        ),
    ),
    _AreaSpec(
        "software",
        "软件工程",
        "software engineering",
        (I.software, I.digital_economy),
        ("F0202",),
        (
            "软件架构|software architecture",
            "微服务|microservices",
            "分布式系统|distributed systems",
            "云原生|cloud native|Kubernetes",
            "数据库|databases|DBMS",
            "持续集成|continuous integration|DevOps",
            "编译器|compilers",
            "操作系统|operating systems",
        ),
    ),
    _AreaSpec(
        "data",
        "大数据",
        "big data",
        (I.digital_economy,),
        ("F0205",),
        (
            "大数据|big data",
            "数据挖掘|data mining",
            "数据仓库|data warehousing",
            "推荐系统|recommender systems",
            "工业互联网|industrial internet|工业物联网",
            "数字孪生|digital twin",
            "云计算|cloud computing",
            "区块链|blockchain",
        ),
    ),
    _AreaSpec(
        "security",
        "网络安全",
        "cybersecurity",
        (I.software, I.digital_economy),
        ("F0207",),
        (
            "网络安全|cybersecurity|信息安全",
            "密码学|cryptography",
            "隐私计算|privacy-preserving computation|多方安全计算",
            "漏洞挖掘|vulnerability discovery",
            "入侵检测|intrusion detection",
            "零信任|zero trust",
            "数据安全|data security",
        ),
    ),
    _AreaSpec(
        "wireless",
        "无线通信",
        "wireless communications",
        (I.communications,),
        ("F0105", "F0103"),
        (
            "5G通信|5G communications|第五代移动通信|5G",
            "6G通信|6G communications|6G",
            "毫米波|millimeter wave|mmWave",
            "大规模MIMO|massive MIMO",
            "射频前端|RF front-end",
            "天线设计|antenna design",
            "信道编码|channel coding",
            "卫星通信|satellite communications",
        ),
    ),
    _AreaSpec(
        "optcomm",
        "光通信",
        "optical communications",
        (I.communications,),
        ("F0109", "F0503"),
        (
            "光通信|optical communications|光纤通信",
            "光纤|optical fibre|optical fiber",
            "硅光|silicon photonics|硅基光电子",
            "光模块|optical transceivers",
            "相干光通信|coherent optical communication",
            "光交换|optical switching",
        ),
    ),
    _AreaSpec(
        "iot",
        "物联网",
        "internet of things",
        (I.iot,),
        ("F0102", "F0204"),
        (
            "物联网|internet of things|IoT",
            "嵌入式系统|embedded systems|嵌入式开发",
            "边缘计算|edge computing",
            "低功耗广域网|LPWAN|NB-IoT|LoRa",
            "无线传感网络|wireless sensor networks|WSN",
            "实时操作系统|real-time operating systems|RTOS",
            "智能家居|smart home",
            "车联网|vehicle networking|V2X",
        ),
    ),
    _AreaSpec(
        "signal",
        "信号处理",
        "signal processing",
        (I.communications, I.sensors),
        ("F0111",),
        (
            "信号处理|signal processing|DSP",
            "雷达信号处理|radar signal processing",
            "阵列信号处理|array signal processing",
            "压缩感知|compressed sensing",
            "语音信号处理|speech signal processing",
            "自适应滤波|adaptive filtering",
        ),
    ),
    _AreaSpec(
        "icdesign",
        "集成电路设计",
        "integrated circuit design",
        (I.semiconductors,),
        ("F0402",),
        (
            "集成电路设计|IC design|芯片设计|chip design",
            "模拟集成电路|analog IC design|模拟电路",
            "数字前端设计|digital front-end design|RTL设计|Verilog",
            "射频集成电路|RF integrated circuits|RFIC",
            "电子设计自动化|electronic design automation|EDA",
            "芯片验证|chip verification|UVM",
            "片上系统|system-on-chip|SoC",
            "低功耗设计|low-power design",
        ),
    ),
    _AreaSpec(
        "fab",
        "集成电路制造",
        "semiconductor manufacturing",
        (I.semiconductors,),
        ("F0406",),
        (
            "光刻|lithography|光刻工艺|photolithography",
            "刻蚀|etching|干法刻蚀",
            "薄膜沉积|thin-film deposition|CVD|ALD",
            "先进封装|advanced packaging|Chiplet",
            "良率提升|yield enhancement",
            "晶圆制造|wafer fabrication",
            "化学机械抛光|chemical mechanical polishing|CMP",
            "离子注入|ion implantation",
        ),
    ),
    _AreaSpec(
        "semiequip",
        "半导体装备",
        "semiconductor equipment",
        (I.semiconductors, I.high_end_equipment),
        ("F0406", "E0510"),
        (
            "半导体设备|semiconductor equipment|半导体装备",
            "真空技术|vacuum technology",
            "等离子体源|plasma sources",
            "精密运动控制|precision motion control",
            "晶圆检测|wafer inspection",
            "量测设备|metrology tools|量测",
        ),
    ),
    _AreaSpec(
        "semimat",
        "半导体材料",
        "semiconductor materials",
        (I.semiconductors, I.new_materials),
        ("F0401", "E0209"),
        (
            "碳化硅|silicon carbide|SiC",
            "氮化镓|gallium nitride|GaN",
            "宽禁带半导体|wide-bandgap semiconductors|第三代半导体",
            "外延生长|epitaxial growth|MOCVD",
            "单晶硅|monocrystalline silicon|硅片",
            "光刻胶|photoresist",
            "电子特气|electronic specialty gases",
        ),
    ),
    _AreaSpec(
        "power",
        "功率器件",
        "power devices",
        (I.semiconductors, I.new_energy),
        ("F0404", "E0706"),
        (
            "功率器件|power devices|功率半导体",
            "绝缘栅双极晶体管|IGBT",
            "金属氧化物半导体场效应管|MOSFET",
            "电力电子|power electronics",
            "逆变器|inverters",
            "器件建模|device modelling|device modeling",
            "可靠性测试|reliability testing",
        ),
    ),
    _AreaSpec(
        "pv",
        "光伏",
        "photovoltaics",
        (I.photovoltaics, I.new_energy),
        ("E0607",),
        (
            "钙钛矿电池|perovskite solar cells|钙钛矿太阳能电池",
            "晶硅电池|crystalline silicon solar cells|TOPCon|PERC",
            "异质结电池|heterojunction solar cells|HJT",
            "光伏组件|PV modules|光伏模块",
            "叠层电池|tandem solar cells",
            "光伏系统集成|PV system integration",
            "减反射膜|anti-reflection coatings",
        ),
    ),
    _AreaSpec(
        "battery",
        "电池与储能",
        "batteries and energy storage",
        (I.new_energy,),
        ("E0712", "B0306"),
        (
            "锂离子电池|lithium-ion batteries|锂电池",
            "固态电池|solid-state batteries",
            "正极材料|cathode materials",
            "电解质|electrolytes|电解液",
            "电池管理系统|battery management systems|BMS",
            "钠离子电池|sodium-ion batteries",
            "储能系统|energy storage systems|储能",
        ),
    ),
    _AreaSpec(
        "grid",
        "智能电网",
        "smart grids",
        (I.new_energy,),
        ("E0704",),
        (
            "智能电网|smart grid",
            "微电网|microgrids",
            "新能源并网|renewable grid integration",
            "电力系统稳定|power system stability",
            "虚拟电厂|virtual power plants",
            "风电|wind power|风力发电",
        ),
    ),
    _AreaSpec(
        "hydrogen",
        "氢能",
        "hydrogen energy",
        (I.hydrogen, I.new_energy),
        ("B0609", "B0303"),
        (
            "燃料电池|fuel cells|质子交换膜燃料电池|PEMFC",
            "电解水制氢|water electrolysis|PEM电解",
            "储氢材料|hydrogen storage materials",
            "氢能安全|hydrogen safety",
            "电催化|electrocatalysis|电催化剂",
            "加氢站|hydrogen refuelling stations",
        ),
    ),
    _AreaSpec(
        "polymer",
        "高分子材料",
        "polymer materials",
        (I.new_materials,),
        ("E0309", "B0403", "E0307"),
        (
            "高分子合成|polymer synthesis",
            "功能高分子|functional polymers",
            "高分子复合材料|polymer composites",
            "生物降解塑料|biodegradable plastics",
            "碳纤维|carbon fibre|carbon fiber|高性能纤维",
            "功能涂层|functional coatings",
        ),
    ),
    _AreaSpec(
        "metal",
        "金属材料",
        "metallic materials",
        (I.new_materials, I.aerospace),
        ("E0101", "E0106"),
        (
            "高温合金|superalloys",
            "钛合金|titanium alloys",
            "铝合金|aluminium alloys|aluminum alloys",
            "增材制造|additive manufacturing|3D打印|metal 3D printing",
            "热处理|heat treatment",
            "材料力学性能|mechanical properties of materials",
        ),
    ),
    _AreaSpec(
        "carbon",
        "纳米与碳材料",
        "nano and carbon materials",
        (I.new_materials,),
        ("E0206", "E0204"),
        (
            "石墨烯|graphene",
            "碳纳米管|carbon nanotubes|CNT",
            "功能陶瓷|functional ceramics",
            "二维材料|2D materials",
            "纳米材料|nanomaterials",
            "气凝胶|aerogels",
        ),
    ),
    _AreaSpec(
        "flex",
        "柔性电子",
        "flexible electronics",
        (I.flexible_electronics,),
        ("F0408",),
        (
            "柔性电子|flexible electronics",
            "可穿戴设备|wearable devices|可穿戴",
            "有机发光二极管|OLED",
            "印刷电子|printed electronics",
            "柔性传感器|flexible sensors",
            "电子皮肤|electronic skin|e-skin",
            "柔性显示|flexible displays",
        ),
    ),
    _AreaSpec(
        "mems",
        "传感器与MEMS",
        "sensors and MEMS",
        (I.sensors, I.iot),
        ("F0407", "F0123"),
        (
            "微机电系统|MEMS",
            "压力传感器|pressure sensors",
            "惯性传感器|inertial sensors|IMU",
            "气体传感器|gas sensors",
            "传感器封装|sensor packaging",
            "激光雷达|lidar|LiDAR",
            "光电传感|optoelectronic sensing",
        ),
    ),
    _AreaSpec(
        "photonics",
        "激光与光电子",
        "lasers and photonics",
        (I.sensors, I.communications),
        ("F0506", "F0502"),
        (
            "激光器|lasers|激光技术",
            "光学设计|optical design",
            "红外探测|infrared detection",
            "超快光学|ultrafast optics",
            "光学镀膜|optical coatings",
            "光谱分析|spectroscopy",
        ),
    ),
    _AreaSpec(
        "aero",
        "航空航天",
        "aerospace engineering",
        (I.aerospace, I.high_end_equipment),
        ("A0204", "F0303"),
        (
            "飞行器设计|aircraft design",
            "计算流体力学|computational fluid dynamics|CFD|空气动力学",
            "航空发动机|aero-engines",
            "复合材料结构|composite structures",
            "导航制导与控制|guidance, navigation and control|GNC",
            "无人机|UAVs|drones",
            "卫星工程|satellite engineering",
        ),
    ),
    _AreaSpec(
        "mfg",
        "智能制造",
        "smart manufacturing",
        (I.intelligent_manufacturing, I.high_end_equipment),
        ("E0510",),
        (
            "智能制造|smart manufacturing|intelligent manufacturing",
            "工业机器人|industrial robots",
            "数控机床|CNC machine tools|CNC",
            "制造执行系统|manufacturing execution systems|MES",
            "预测性维护|predictive maintenance",
            "可编程逻辑控制器|PLC",
            "工业自动化|industrial automation",
            "精益生产|lean production",
        ),
    ),
    _AreaSpec(
        "mech",
        "机械设计",
        "mechanical design",
        (I.high_end_equipment,),
        ("E0506", "E0503"),
        (
            "机械设计|mechanical design",
            "有限元分析|finite element analysis|FEA|ANSYS",
            "振动与噪声|vibration and noise",
            "液压传动|hydraulic transmission",
            "精密加工|precision machining",
            "摩擦学|tribology",
        ),
    ),
    _AreaSpec(
        "control",
        "控制工程",
        "control engineering",
        (I.intelligent_manufacturing, I.high_end_equipment),
        ("F0301",),
        (
            "控制理论|control theory",
            "模型预测控制|model predictive control|MPC",
            "故障诊断|fault diagnosis",
            "运动控制|motion control",
            "伺服系统|servo systems",
            "系统辨识|system identification",
        ),
    ),
    _AreaSpec(
        "drug",
        "药物研发",
        "drug discovery",
        (I.life_health,),
        ("H3001", "H3007"),
        (
            "药物化学|medicinal chemistry",
            "药物设计|drug design|计算机辅助药物设计|CADD",
            "药物制剂|pharmaceutical formulation|药剂学",
            "药物分析|pharmaceutical analysis",
            "临床前研究|preclinical research",
            "小分子药物|small-molecule drugs",
            "药代动力学|pharmacokinetics|PK",
        ),
    ),
    _AreaSpec(
        "biologics",
        "生物药",
        "biologics",
        (I.life_health,),
        ("H3004", "C0502"),
        (
            "抗体药物|antibody drugs|单克隆抗体|monoclonal antibodies",
            "细胞治疗|cell therapy|CAR-T",
            "基因编辑|gene editing|CRISPR",
            "蛋白质工程|protein engineering",
            "疫苗|vaccines",
            "mRNA技术|mRNA technology",
            "细胞培养|cell culture|生物反应器",
        ),
    ),
    _AreaSpec(
        "meddev",
        "医疗器械",
        "medical devices",
        (I.life_health,),
        ("H1825", "H1809"),
        (
            "医疗器械|medical devices",
            "医学影像|medical imaging",
            "体外诊断|in-vitro diagnostics|IVD",
            "医学图像分析|medical image analysis",
            "植入器械|implantable devices",
            "手术机器人|surgical robots",
            "超声成像|ultrasound imaging",
        ),
    ),
    _AreaSpec(
        "bioinfo",
        "生物信息",
        "bioinformatics",
        (I.life_health, I.ai),
        ("C0607", "C0605"),
        (
            "生物信息学|bioinformatics",
            "基因组学|genomics",
            "单细胞测序|single-cell sequencing",
            "蛋白质结构预测|protein structure prediction",
            "多组学|multi-omics",
            "高通量测序|next-generation sequencing|NGS",
        ),
    ),
    # Off-domain areas: talent the city's industries do not ask for (realistic noise in the pool).
    _AreaSpec(
        "math",
        "代数学",
        "algebra",
        (),
        ("A0102",),
        (
            "代数几何|algebraic geometry",
            "表示论|representation theory",
            "组合数学|combinatorics",
            "偏微分方程|partial differential equations",
        ),
    ),
    _AreaSpec(
        "ecology",
        "生态学",
        "ecology",
        (),
        ("C0301",),
        ("生态修复|ecological restoration", "生物多样性|biodiversity", "湿地生态|wetland ecology", "碳汇|carbon sinks"),
    ),
    _AreaSpec(
        "mgmt",
        "战略管理",
        "strategic management",
        (),
        ("G0201",),
        (
            "技术转移|technology transfer",
            "创新管理|innovation management",
            "知识产权|intellectual property",
            "战略规划|strategic planning",
        ),
    ),
)

_GENERIC_SKILLS = (
    ("项目管理", "project management"),
    ("团队管理", "team leadership"),
    ("Python", "Python"),
    ("MATLAB", "MATLAB"),
    ("技术写作", "technical writing"),
    ("产学研合作", "industry-academia collaboration"),
)


class _Vocab:
    """The areas and skills as flat numpy tables, so latent draws are vectorised."""

    def __init__(self) -> None:
        tree = disciplines()
        children: dict[str, list[str]] = {}
        for d in tree.values():
            if d.parent:
                children.setdefault(d.parent, []).append(d.code)
        self.areas = _AREAS
        self.skill_zh: list[str] = []
        self.skill_en: list[str] = []
        self.skill_syn: list[tuple[str, ...]] = []
        area_skills: list[list[int]] = []
        area_leaves: list[list[int]] = []
        self.leaf_codes: list[str] = []
        leaf_index: dict[str, int] = {}
        for a in _AREAS:
            ids = []
            for item in a.skills:
                zh, en, *syn = (p.strip() for p in item.split("|"))
                ids.append(len(self.skill_zh))
                self.skill_zh.append(zh)
                self.skill_en.append(en)
                self.skill_syn.append(tuple(syn))
            area_skills.append(ids)
            leaves = []
            for code in a.nsfc:
                if code not in tree:
                    raise ValueError(f"world vocabulary: area {a.key} names unknown NSFC code {code}")
                for leaf in children.get(code, [code]):
                    leaf_index.setdefault(leaf, len(self.leaf_codes))
                    if leaf_index[leaf] == len(self.leaf_codes):
                        self.leaf_codes.append(leaf)
                    leaves.append(leaf_index[leaf])
            area_leaves.append(leaves)
        self.n_areas = len(_AREAS)
        self.n_skills = len(self.skill_zh)
        self.n_leaves = len(self.leaf_codes)
        self.industries = list(Industry)
        self.n_ind = len(self.industries)
        self.area_skills = _pad(area_skills)
        self.area_leaves = _pad(area_leaves)
        ind_pos = {ind: i for i, ind in enumerate(self.industries)}
        self.area_ind = np.zeros((self.n_areas, self.n_ind), dtype=np.float32)
        for i, a in enumerate(_AREAS):
            for ind in a.industries:
                self.area_ind[i, ind_pos[ind]] = 1.0
        self.area_primary_ind = np.array([ind_pos[a.industries[0]] if a.industries else -1 for a in _AREAS])
        self.areas_of_industry = {ind: [i for i, a in enumerate(_AREAS) if ind in a.industries] for ind in Industry}
        missing = [ind.value for ind, ids in self.areas_of_industry.items() if not ids]
        if missing:
            raise ValueError(f"world vocabulary: no expertise area covers industries {missing}")
        self.domain_areas = np.array([i for i, a in enumerate(_AREAS) if a.industries])
        self.offdomain_areas = np.array([i for i, a in enumerate(_AREAS) if not a.industries])
        # related[a] lists areas sharing an industry with a (its natural second field).
        share = self.area_ind @ self.area_ind.T
        np.fill_diagonal(share, 0)
        self.related = [np.flatnonzero(share[i]) for i in range(self.n_areas)]


def _pad(rows: list[list[int]]) -> np.ndarray:
    out = np.full((len(rows), max(len(r) for r in rows)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


# --------------------------------------------------------------------------------------------------------------------
# Fixed reference entities: the seven platforms and eight incubators.
# --------------------------------------------------------------------------------------------------------------------

_PLATFORMS = (
    (
        "plat-xiuzhou",
        "秀洲国家高新技术产业开发区",
        "Xiuzhou National High-tech Zone",
        "秀洲区",
        (I.photovoltaics, I.new_energy, I.hydrogen),
        "国际人才城所在地，聚焦光伏与新能源产业链。",
    ),
    (
        "plat-kejicheng",
        "嘉兴科技城",
        "Jiaxing Science City",
        "南湖区",
        (I.software, I.communications, I.semiconductors, I.new_materials, I.life_health),
        "聚焦软件与信息服务、通信、芯片、新材料与生物医药。",
    ),
    (
        "plat-pinghu",
        "平湖张江长三角科技城",
        "Pinghu Zhangjiang YRD Science City",
        "平湖市",
        (I.intelligent_manufacturing, I.high_end_equipment, I.flexible_electronics, I.life_health),
        "对接上海张江，发展智能制造、电子信息与生命健康。",
    ),
    (
        "plat-haining",
        "海宁鹃湖国际科技城",
        "Haining Juanhu International Science City",
        "海宁市",
        (I.semiconductors, I.high_end_equipment, I.new_materials),
        "以泛半导体装备与材料为特色。",
    ),
    (
        "plat-jiashan",
        "中国归谷嘉善科技园",
        "China Guigu Jiashan Science Park",
        "嘉善县",
        (I.semiconductors, I.new_energy, I.sensors, I.flexible_electronics),
        "海归人才创业园区，聚焦电子信息、半导体、新能源与传感器。",
    ),
    (
        "plat-sjtu",
        "上海交通大学嘉兴科技园",
        "SJTU Science Park (Jiaxing)",
        "南湖区",
        (I.ai, I.high_end_equipment, I.digital_economy, I.aerospace),
        "依托上海交通大学的科技成果转化平台。",
    ),
    (
        "plat-smart",
        "嘉兴智慧产业创新园",
        "Jiaxing Smart Industry Innovation Park",
        "经济技术开发区",
        (I.software, I.semiconductors, I.iot, I.ai),
        "聚焦软件、集成电路设计与物联网。",
    ),
)

# Real incubator cities are not public: every city here is invented and marked synthetic.
_INCUBATORS = (
    (
        "inc-us-northbay",
        "海纳北湾孵化器",
        "Haina Northbay Incubator",
        "US",
        "Northbay (synthetic)",
        "北湾（虚构）",
        (I.ai, I.semiconductors),
    ),
    (
        "inc-us-redwood",
        "海纳红木滩孵化器",
        "Haina Redwood Flats Incubator",
        "US",
        "Redwood Flats (synthetic)",
        "红木滩（虚构）",
        (I.life_health, I.ai),
    ),
    (
        "inc-uk-eastmere",
        "海纳东湖镇孵化器",
        "Haina Eastmere Incubator",
        "GB",
        "Eastmere (synthetic)",
        "东湖镇（虚构）",
        (I.new_materials, I.life_health),
    ),
    (
        "inc-de-neuburgtal",
        "海纳新堡谷孵化器",
        "Haina Neuburgtal Incubator",
        "DE",
        "Neuburgtal (synthetic)",
        "新堡谷（虚构）",
        (I.high_end_equipment, I.intelligent_manufacturing, I.hydrogen),
    ),
    (
        "inc-au-kallara",
        "海纳卡拉湾孵化器",
        "Haina Kallara Bay Incubator",
        "AU",
        "Kallara Bay (synthetic)",
        "卡拉湾（虚构）",
        (I.new_energy, I.photovoltaics),
    ),
    (
        "inc-ca-portalder",
        "海纳赤杨港孵化器",
        "Haina Port Alder Incubator",
        "CA",
        "Port Alder (synthetic)",
        "赤杨港（虚构）",
        (I.software, I.ai, I.digital_economy),
    ),
    (
        "inc-il-telshira",
        "海纳希拉丘孵化器",
        "Haina Tel Shira Incubator",
        "IL",
        "Tel Shira (synthetic)",
        "希拉丘（虚构）",
        (I.communications, I.sensors, I.semiconductors),
    ),
    (
        "inc-jp-minamisato",
        "海纳南里孵化器",
        "Haina Minamisato Incubator",
        "JP",
        "Minamisato (synthetic)",
        "南里（虚构）",
        (I.flexible_electronics, I.new_materials, I.sensors),
    ),
)


def _pairs(text: str, sep: str = " ") -> tuple[tuple[str, str], ...]:
    """``"王:Wang 李:Li"`` → ``(("王", "Wang"), ("李", "Li"))``: keeps the bilingual pools compact."""
    return tuple(tuple(item.split(":", 1)) for item in text.split(sep) if item)  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------------------------
# People and places.
# --------------------------------------------------------------------------------------------------------------------

_SURNAMES = _pairs(
    "王:Wang 李:Li 张:Zhang 刘:Liu 陈:Chen 杨:Yang 黄:Huang 赵:Zhao 吴:Wu 周:Zhou 徐:Xu "
    "孙:Sun 马:Ma 朱:Zhu 胡:Hu 郭:Guo 何:He 林:Lin 高:Gao 罗:Luo 郑:Zheng 梁:Liang "
    "谢:Xie 宋:Song 唐:Tang 许:Xu 韩:Han 冯:Feng 邓:Deng 曹:Cao 彭:Peng 曾:Zeng 肖:Xiao "
    "田:Tian 董:Dong 潘:Pan 袁:Yuan 蒋:Jiang 蔡:Cai 余:Yu 杜:Du 叶:Ye 程:Cheng 魏:Wei "
    "沈:Shen 钱:Qian 姚:Yao 陆:Lu 顾:Gu 欧阳:Ouyang",
)
_GIVEN = _pairs(
    "伟:Wei 芳:Fang 敏:Min 静:Jing 磊:Lei 强:Qiang 军:Jun 洋:Yang 勇:Yong 艳:Yan 杰:Jie "
    "涛:Tao 明:Ming 超:Chao 霞:Xia 平:Ping 刚:Gang 华:Hua 飞:Fei 鑫:Xin 波:Bo 斌:Bin "
    "宇:Yu 浩:Hao 凯:Kai 健:Jian 俊:Jun 帆:Fan 鹏:Peng 琳:Lin 晨:Chen 睿:Rui 博:Bo "
    "昊:Hao 欣:Xin 婷:Ting 悦:Yue 子:Zi 文:Wen 嘉:Jia 思:Si 逸:Yi 然:Ran 哲:Zhe 瑶:Yao "
    "雪:Xue 倩:Qian 越:Yue 峰:Feng 海:Hai 晓:Xiao 立:Li 志:Zhi 国:Guo 建:Jian 新:Xin "
    "永:Yong 春:Chun",
)
_FOREIGN_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "EN": (
        (
            "James",
            "Emily",
            "Michael",
            "Sarah",
            "David",
            "Laura",
            "Daniel",
            "Olivia",
            "Thomas",
            "Hannah",
            "Ryan",
            "Grace",
            "Andrew",
            "Chloe",
            "Mark",
            "Jessica",
        ),
        (
            "Smith",
            "Johnson",
            "Brown",
            "Taylor",
            "Wilson",
            "Clarke",
            "Walker",
            "Evans",
            "Harris",
            "Turner",
            "Bennett",
            "Murphy",
            "Campbell",
            "Mitchell",
            "Reid",
            "Foster",
        ),
    ),
    "DE": (
        ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Maximilian", "Sophie", "Tobias", "Katharina"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch"),
    ),
    "FR": (
        ("Julien", "Camille", "Antoine", "Claire", "Nicolas", "Élodie", "Mathieu", "Manon"),
        ("Martin", "Bernard", "Dubois", "Laurent", "Moreau", "Lefebvre", "Garnier", "Rousseau"),
    ),
    "JP": (
        ("Haruto", "Yui", "Sota", "Aoi", "Kenji", "Sakura", "Takumi", "Yuki"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Nakamura", "Kobayashi"),
    ),
    "KR": (("Minjun", "Seoyeon", "Jiho", "Hayoon", "Dohyun", "Jiwoo"), ("Kim", "Lee", "Park", "Choi", "Jung", "Kang")),
    "IL": (
        ("Noam", "Tamar", "Eitan", "Yael", "Omer", "Noa"),
        ("Cohen", "Levi", "Mizrahi", "Peretz", "Biton", "Friedman"),
    ),
}
# country, weight among foreign countries, name pool, cities, universities, language
_COUNTRIES: dict[str, tuple[float, str, tuple[str, ...], tuple[str, ...], str]] = {
    "US": (
        0.30,
        "EN",
        ("Boston", "San Jose", "Houston", "Seattle", "Pittsburgh"),
        (
            "Massachusetts Institute of Technology",
            "Stanford University",
            "University of California, Berkeley",
            "Georgia Institute of Technology",
            "Carnegie Mellon University",
        ),
        "en",
    ),
    "DE": (
        0.12,
        "DE",
        ("Munich", "Aachen", "Stuttgart"),
        ("Technical University of Munich", "RWTH Aachen University", "Karlsruhe Institute of Technology"),
        "de",
    ),
    "GB": (
        0.12,
        "EN",
        ("London", "Cambridge", "Manchester"),
        ("Imperial College London", "University of Cambridge", "University of Manchester"),
        "en",
    ),
    "AU": (0.08, "EN", ("Sydney", "Melbourne"), ("University of New South Wales", "University of Melbourne"), "en"),
    "JP": (0.08, "JP", ("Tokyo", "Osaka"), ("University of Tokyo", "Tohoku University"), "ja"),
    "KR": (0.06, "KR", ("Seoul", "Daejeon"), ("KAIST", "Seoul National University"), "ko"),
    "FR": (0.08, "FR", ("Paris", "Grenoble"), ("Sorbonne University", "Université Grenoble Alpes"), "fr"),
    "CA": (0.08, "EN", ("Toronto", "Waterloo"), ("University of Toronto", "University of Waterloo"), "en"),
    "IL": (0.04, "IL", ("Haifa",), ("Technion – Israel Institute of Technology",), "he"),
    "SG": (0.04, "EN", ("Singapore",), ("National University of Singapore",), "en"),
}
_COUNTRY_ZH = {
    "US": "美国",
    "DE": "德国",
    "GB": "英国",
    "AU": "澳大利亚",
    "JP": "日本",
    "KR": "韩国",
    "FR": "法国",
    "CA": "加拿大",
    "IL": "以色列",
    "SG": "新加坡",
}
# (zh, en, in_yrd, weight)
_CN_CITIES = (
    ("上海", "Shanghai", True, 14),
    ("杭州", "Hangzhou", True, 10),
    ("南京", "Nanjing", True, 7),
    ("苏州", "Suzhou", True, 6),
    ("合肥", "Hefei", True, 5),
    ("宁波", "Ningbo", True, 4),
    ("无锡", "Wuxi", True, 3),
    ("嘉兴", "Jiaxing", True, 4),
    ("常州", "Changzhou", True, 2),
    ("芜湖", "Wuhu", True, 1),
    ("北京", "Beijing", False, 12),
    ("深圳", "Shenzhen", False, 8),
    ("广州", "Guangzhou", False, 4),
    ("武汉", "Wuhan", False, 4),
    ("西安", "Xi'an", False, 4),
    ("成都", "Chengdu", False, 4),
    ("天津", "Tianjin", False, 2),
    ("长沙", "Changsha", False, 2),
    ("哈尔滨", "Harbin", False, 2),
    ("济南", "Jinan", False, 2),
)
_CN_UNIS = _pairs(
    "浙江大学:Zhejiang University;清华大学:Tsinghua University;"
    "上海交通大学:Shanghai Jiao Tong University;复旦大学:Fudan University;"
    "中国科学技术大学:University of Science and Technology of China;"
    "南京大学:Nanjing University;东南大学:Southeast University;"
    "北京大学:Peking University;"
    "华中科技大学:Huazhong University of Science and Technology;"
    "西安交通大学:Xi'an Jiaotong University;哈尔滨工业大学:Harbin Institute of Technology;"
    "同济大学:Tongji University;嘉兴大学:Jiaxing University;"
    "中国科学院上海微系统与信息技术研究所:Shanghai Institute of Microsystem and Information Technology, CAS;"
    "浙江清华长三角研究院:Yangtze Delta Region Institute of Tsinghua University, Zhejiang",
    sep=";",
)
_BRAND_CHARS = _pairs(
    "曜:Yao 澜:Lan 衡:Heng 泓:Hong 拓:Tuo 锐:Rui 昕:Xin 朔:Shuo 岚:Lan 翎:Ling 禾:He "
    "启:Qi 湃:Pai 瀚:Han 珩:Heng 骁:Xiao 湛:Zhan 铖:Cheng 熠:Yi 垚:Yao",
)
_POSITIONS = (
    ("教授", "Professor"),
    ("研究员", "Research Fellow"),
    ("副教授", "Associate Professor"),
    ("高级工程师", "Senior Engineer"),
    ("首席科学家", "Chief Scientist"),
    ("技术总监", "Technical Director"),
    ("博士后", "Postdoctoral Researcher"),
    ("工程师", "Engineer"),
)
_HONOURS = {
    5: (
        ("中国科学院院士", "Academician of the Chinese Academy of Sciences"),
        ("中国工程院院士", "Academician of the Chinese Academy of Engineering"),
        ("外国科学院院士", "Member of a foreign national academy"),
    ),
    4: (
        ("国家杰出青年科学基金获得者", "National Science Fund for Distinguished Young Scholars"),
        ("国家级领军人才", "National leading talent"),
    ),
    3: (
        ("浙江省领军人才", "Zhejiang provincial leading talent"),
        ("省级重点人才计划入选者", "Provincial talent programme"),
    ),
    2: (("浙江省海外工程师", "Zhejiang overseas engineer"), ("嘉兴市领军人才", "Jiaxing municipal leading talent")),
    1: (("高级工程师", "Senior engineer title"), ("正高级职称", "Full senior professional title")),
}
_TIERS = (None, Tier.E, Tier.D, Tier.C, Tier.B, Tier.A)  # indexed by rank 0..5
_TIER_P = np.array([0.465, 0.30, 0.15, 0.06, 0.02, 0.005])  # the pyramid: none, E, D, C, B, A
_SALARY_BY_RANK = ((18, 45), (35, 70), (50, 100), (80, 150), (150, 300), (300, 800))  # 万元/年
_NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)

# --------------------------------------------------------------------------------------------------------------------
# Truth: relevance thresholds for grades 1..4 and the simulated recruiter's click model (index = grade 0..4).
# --------------------------------------------------------------------------------------------------------------------

_GRADE_THRESHOLDS = np.array([0.45, 0.60, 0.75, 0.90])
_MIN_RELEVANT = 3
_MIN_EXPERTISE = 0.1
_P_SHORTLIST = np.array([0.03, 0.15, 0.32, 0.52, 0.72])
_P_REJECT = np.array([0.55, 0.35, 0.18, 0.08, 0.04])
_P_CONTACT = np.array([0.2, 0.4, 0.5, 0.62, 0.75])
_P_INTERVIEW = np.array([0.05, 0.2, 0.35, 0.5, 0.6])
_P_HIRE = np.array([0.0, 0.0, 0.04, 0.2, 0.4])
_KIND_P = {
    NeedKind.special_researcher: 0.25,
    NeedKind.enclave: 0.2,
    NeedKind.full_time: 0.4,
    NeedKind.incubation_project: 0.15,
}
_KINDS = tuple(_KIND_P)


# --------------------------------------------------------------------------------------------------------------------
# Latent state.
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class _Latent:
    """Latent arrays, one row per talent (``t_*``) or need (``n_*``). The truth is a function of these alone."""

    t_area: np.ndarray
    t_area2: np.ndarray  # secondary area or -1
    t_skills: sp.csr_matrix  # talents × skills, true strengths
    t_leaves: sp.csr_matrix  # talents × NSFC leaves
    t_tier: np.ndarray  # rank 0..5
    t_quality: np.ndarray
    t_origin: np.ndarray  # 0 domestic, 1 returnee, 2 foreign national of Chinese origin, 3 foreign national
    t_country: np.ndarray  # nationality index into _FOREIGN (or -1 for CN)
    t_abroad: np.ndarray
    t_city: np.ndarray  # index into _CN_CITIES (domestic residents) or foreign city slot
    t_yrd: np.ndarray
    t_relocate: np.ndarray
    t_short_months: np.ndarray  # 0 = unwilling to come short term
    t_shanghai_ok: np.ndarray
    t_lang_zh: np.ndarray
    t_lang_en: np.ndarray
    t_salary: np.ndarray
    t_incubator: np.ndarray  # index into _INCUBATORS or -1
    t_consent: np.ndarray  # matching consent
    t_study_country: np.ndarray  # where returnees studied
    t_pubs: np.ndarray
    t_patents: np.ndarray
    n_area: np.ndarray
    n_industry: np.ndarray  # index into Industry
    n_enterprise: np.ndarray
    n_kind: np.ndarray  # index into _KINDS
    n_skills: sp.csr_matrix
    n_leaves: sp.csr_matrix
    n_min_tier: np.ndarray
    n_months: np.ndarray
    n_lang_zh: np.ndarray
    n_lang_en: np.ndarray
    n_budget: np.ndarray  # NaN = no stated budget


_FOREIGN = tuple(_COUNTRIES)


def _sample_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray, k: np.ndarray) -> sp.csr_matrix:
    """For each row i, pick ``k[i]`` distinct non-padding entries of ``table[rows[i]]`` (vectorised): a 0/1 CSR."""
    cand = table[rows]
    keys = rng.random(cand.shape)
    keys[cand < 0] = 2.0
    order = np.argsort(keys, axis=1)
    picked = np.take_along_axis(cand, order, axis=1)
    k = np.minimum(k, (cand >= 0).sum(axis=1))
    mask = np.arange(cand.shape[1])[None, :] < k[:, None]
    r, c = np.nonzero(mask)
    width = int(table.max()) + 1
    return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, picked[r, c])), shape=(len(rows), width))


def _draw_needs(rng: np.random.Generator, v: _Vocab, n_needs: int, ent_ind: list[list[int]]) -> dict:
    ind_list = v.industries
    n_ent = len(ent_ind)
    ent = rng.integers(0, n_ent, n_needs)
    ent[: min(n_ent, n_needs)] = np.arange(min(n_ent, n_needs))  # every enterprise posts at least one need
    ent.sort()
    industry = np.array([ent_ind[e][rng.integers(len(ent_ind[e]))] for e in ent])
    area = np.array([rng.choice(v.areas_of_industry[ind_list[i]]) for i in industry])
    kind = rng.choice(len(_KINDS), n_needs, p=list(_KIND_P.values()))
    k = rng.integers(3, 7, n_needs)
    skills = _sample_rows(rng, v.area_skills, area, k)
    skills.data = rng.uniform(0.6, 1.0, skills.nnz).astype(np.float32)
    leaves = _sample_rows(rng, v.area_leaves, area, rng.integers(1, 3, n_needs))
    min_tier = rng.choice(6, n_needs, p=[0.4, 0.22, 0.2, 0.12, 0.05, 0.01])
    months = np.where(kind == _KINDS.index(NeedKind.special_researcher), rng.integers(2, 7, n_needs), 0)
    lang_en = rng.random(n_needs) < 0.3
    lang_zh = ~lang_en | (rng.random(n_needs) < 0.5)
    lo = np.array([s[0] for s in _SALARY_BY_RANK])[min_tier]
    hi = np.array([s[1] for s in _SALARY_BY_RANK])[min_tier]
    budget = np.round(rng.uniform(lo, hi * 1.3) / 5) * 5
    budget[rng.random(n_needs) < 0.3] = np.nan
    return dict(
        n_area=area,
        n_industry=industry,
        n_enterprise=ent,
        n_kind=kind,
        n_skills=skills,
        n_leaves=leaves,
        n_min_tier=min_tier,
        n_months=months,
        n_lang_zh=lang_zh,
        n_lang_en=lang_en,
        n_budget=budget,
    )


def _draw_talents(rng: np.random.Generator, v: _Vocab, n: int, need_area: np.ndarray) -> dict:
    # Supply follows demand: areas weighted by how many needs ask for them, plus off-domain noise.
    demand = np.bincount(need_area, minlength=v.n_areas).astype(float) + 1.0
    demand[v.offdomain_areas] = 0
    p = 0.92 * demand / demand.sum()
    p[v.offdomain_areas] = 0.08 / len(v.offdomain_areas)
    area = rng.choice(v.n_areas, n, p=p)
    needed = np.unique(need_area)
    area[: min(n, len(needed))] = needed[: min(n, len(needed))]  # every asked-for area has someone
    has2 = rng.random(n) < 0.3
    area2 = np.full(n, -1)
    for a in np.unique(area[has2]):
        idx = np.flatnonzero(has2 & (area == a))
        pool = v.related[a] if len(v.related[a]) else v.domain_areas
        area2[idx] = rng.choice(pool, len(idx))
    skills = _sample_rows(rng, v.area_skills, area, rng.integers(3, 8, n))
    skills.data = rng.uniform(0.5, 1.0, skills.nnz).astype(np.float32)
    if has2.any():
        idx = np.flatnonzero(has2)
        s2 = _sample_rows(rng, v.area_skills, area2[idx], rng.integers(1, 3, len(idx)))
        s2.data = rng.uniform(0.3, 0.7, s2.nnz).astype(np.float32)
        extra = sp.csr_matrix((s2.data, s2.indices, s2.indptr), shape=(len(idx), v.n_skills))
        place = sp.csr_matrix((np.ones(len(idx), dtype=np.float32), (idx, np.arange(len(idx)))), shape=(n, len(idx)))
        skills = sp.csr_matrix(skills, shape=(n, v.n_skills)) + place @ extra
        skills.data = np.minimum(skills.data, 1.0)
    leaves = _sample_rows(rng, v.area_leaves, area, rng.integers(1, 4, n))
    leaves = sp.csr_matrix((leaves.data, leaves.indices, leaves.indptr), shape=(n, v.n_leaves))

    tier = rng.choice(6, n, p=_TIER_P)
    quality = rng.normal(0, 1, n) + 0.35 * tier
    origin = rng.choice(4, n, p=[0.68, 0.20, 0.05, 0.07])
    weights = np.array([c[0] for c in _COUNTRIES.values()])
    country = np.where(origin >= 2, rng.choice(len(_FOREIGN), n, p=weights / weights.sum()), -1)
    study_country = rng.choice(len(_FOREIGN), n, p=weights / weights.sum())
    # Talents of incubator ventures (about 3 %, mostly still abroad), usually at an incubator focused on their field.
    incubator = np.full(n, -1)
    inc_of_ind: dict[int, list[int]] = {}
    for j, inc in enumerate(_INCUBATORS):
        for ind in inc[6]:
            inc_of_ind.setdefault(v.industries.index(ind), []).append(j)
    in_inc = np.flatnonzero(rng.random(n) < 0.03)
    for t in in_inc:
        opts = inc_of_ind.get(int(v.area_primary_ind[area[t]]), [])
        incubator[t] = opts[rng.integers(len(opts))] if opts and rng.random() < 0.85 else rng.integers(len(_INCUBATORS))
    abroad = np.where(origin == 1, rng.random(n) < 0.4, np.where(origin >= 2, rng.random(n) < 0.8, False))
    abroad |= (incubator >= 0) & (rng.random(n) < 0.7)
    cw = np.array([c[3] for c in _CN_CITIES], dtype=float)
    city = np.where(abroad, rng.integers(0, 5, n), rng.choice(len(_CN_CITIES), n, p=cw / cw.sum()))
    cn_yrd = np.array([c[2] for c in _CN_CITIES])
    yrd = ~abroad & cn_yrd[np.where(abroad, 0, city)]
    shanghai = ~abroad & (city == 0)
    relocate = rng.random(n) < np.where(yrd, 0.55, np.where(abroad, 0.3, 0.42)) * np.where(tier >= 4, 0.4, 1.0)
    short_months = np.where(rng.random(n) < np.where(tier >= 3, 0.65, 0.45), rng.choice([1, 2, 2, 3, 3, 4, 6], n), 0)
    shanghai_ok = shanghai | (rng.random(n) < np.where(yrd, 0.6, 0.3))
    lang_zh = origin <= 2
    lang_zh |= rng.random(n) < 0.15
    lang_en = np.where(origin == 0, rng.random(n) < 0.55 + 0.08 * tier, True)
    lo = np.array([s[0] for s in _SALARY_BY_RANK])[tier]
    hi = np.array([s[1] for s in _SALARY_BY_RANK])[tier]
    salary = rng.uniform(lo, hi) * np.where(origin >= 2, 1.3, 1.0)
    consent = rng.random(n) >= 0.08
    pubs = rng.poisson(np.exp(1.2 + 0.45 * tier + 0.25 * quality))
    patents = rng.poisson(0.4 + 0.8 * tier + 0.3 * (origin == 0))
    return dict(
        t_area=area,
        t_area2=area2,
        t_skills=skills,
        t_leaves=leaves,
        t_tier=tier,
        t_quality=quality,
        t_origin=origin,
        t_country=country,
        t_abroad=abroad,
        t_city=city,
        t_yrd=yrd,
        t_relocate=relocate,
        t_short_months=short_months,
        t_shanghai_ok=shanghai_ok,
        t_lang_zh=lang_zh,
        t_lang_en=lang_en,
        t_salary=salary,
        t_incubator=incubator,
        t_consent=consent,
        t_study_country=study_country,
        t_pubs=pubs,
        t_patents=patents,
    )


def _expertise_vectors(v: _Vocab, lat: _Latent) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Unit-length latent expertise vectors (skills, NSFC leaves, area, industry) for talents and needs; their dot
    product is the expertise overlap that the truth builds on."""
    nt, nn = len(lat.t_area), len(lat.n_area)
    has2 = lat.t_area2 >= 0
    t_area = sp.csr_matrix((np.ones(nt, dtype=np.float32), (np.arange(nt), lat.t_area)), shape=(nt, v.n_areas))
    t_area = t_area + sp.csr_matrix(
        (np.full(has2.sum(), 0.5, dtype=np.float32), (np.flatnonzero(has2), lat.t_area2[has2])), shape=(nt, v.n_areas)
    )
    t_ind = v.area_ind[lat.t_area] + 0.5 * np.where(has2[:, None], v.area_ind[lat.t_area2], 0)
    n_area = sp.csr_matrix((np.ones(nn, dtype=np.float32), (np.arange(nn), lat.n_area)), shape=(nn, v.n_areas))
    n_ind = 0.5 * v.area_ind[lat.n_area]
    n_ind[np.arange(nn), lat.n_industry] = 1.0
    blocks = (1.0, 0.6, 0.8, 0.3)
    tx = sp.hstack(
        [b * m for b, m in zip(blocks, (lat.t_skills, lat.t_leaves, t_area, sp.csr_matrix(t_ind)), strict=True)]
    ).tocsr()
    nx = sp.hstack(
        [b * m for b, m in zip(blocks, (lat.n_skills, lat.n_leaves, n_area, sp.csr_matrix(n_ind)), strict=True)]
    ).tocsr()
    for m in (tx, nx):
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        m.data /= np.repeat(np.maximum(norms, 1e-9), np.diff(m.indptr)).astype(m.data.dtype)
    return tx.astype(np.float32), nx.astype(np.float32)


def _relevance(lat: _Latent, need: np.ndarray, tal: np.ndarray, expertise: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """True relevance of (need, talent) pairs from latent attributes only: expertise times the fit of tier,
    availability to the post kind, site, YRD residence, incubator route, language and salary, times noise."""
    kind = lat.n_kind[need]
    tier, min_tier = lat.t_tier[tal], lat.n_min_tier[need]
    f = np.where(tier >= min_tier, 1.0 + 0.05 * np.minimum(tier - min_tier, 3), 0.35 ** (min_tier - tier))
    months, n_months = lat.t_short_months[tal], lat.n_months[need]
    relocate = lat.t_relocate[tal]
    sr = np.where(months >= n_months, 1.0, np.where(months > 0, 0.5, np.where(relocate, 0.55, 0.15)))
    sr = sr * np.where(lat.t_yrd[tal], 1.3, np.where(lat.t_abroad[tal], 0.85, 1.0))
    enclave = np.where(lat.t_shanghai_ok[tal], 1.0, np.where(relocate, 0.45, 0.2))
    full = np.where(relocate, 1.0, np.where(months > 0, 0.3, 0.15))
    inc = lat.t_incubator[tal]
    inc_focus = _INC_FOCUS[np.maximum(inc, 0), lat.n_industry[need]] & (inc >= 0)
    incub = np.where(inc_focus, 1.5, np.where(inc >= 0, 0.9, np.where(relocate, 0.7, 0.25)))
    f *= np.choose(kind, [sr, enclave, full, incub])
    f *= np.where(lat.n_lang_en[need] & ~lat.t_lang_en[tal], 0.6, 1.0)
    f *= np.where(lat.n_lang_zh[need] & ~lat.t_lang_zh[tal], 0.45, 1.0)
    budget, salary = lat.n_budget[need], lat.t_salary[tal]
    f *= np.where(np.isnan(budget), 1.0, np.where(salary > budget * 1.3, 0.55, np.where(salary > budget, 0.85, 1.0)))
    f *= np.exp(0.08 * lat.t_quality[tal])
    return expertise * f * np.exp(noise)


_INC_FOCUS = np.array([[ind in inc[6] for ind in Industry] for inc in _INCUBATORS])


def _truth_and_feedback(
    v: _Vocab, lat: _Latent, rng: np.random.Generator, need_times: list[datetime], progress: Progress | None
) -> tuple[list[tuple[int, int, int]], list[dict]]:
    """Grade every (need, talent) pair in chunks of needs (sparse products, so only pairs with some expertise
    overlap are scored), then simulate the legacy system's recruiter feedback on each need."""
    tx, nx = _expertise_vectors(v, lat)
    txt = tx.T.tocsr()
    n_needs, n_tal = nx.shape[0], tx.shape[0]
    consenting = np.flatnonzero(lat.t_consent)
    truth: list[tuple[int, int, int]] = []
    events: list[dict] = []
    chunk = max(1, 2_000_000 // max(1, n_tal // 8))
    for start in range(0, n_needs, chunk):
        prod = (nx[start : start + chunk] @ txt).tocsr()
        prod.data[prod.data < _MIN_EXPERTISE] = 0  # no meaningful overlap: unrelated by definition
        prod.eliminate_zeros()
        prod.sort_indices()
        rows = np.repeat(np.arange(prod.shape[0]), np.diff(prod.indptr)) + start
        rel = _relevance(lat, rows, prod.indices, prod.data, rng.normal(0, 0.12, prod.nnz))
        grade = np.searchsorted(_GRADE_THRESHOLDS, rel, side="right")
        for i in range(prod.shape[0]):
            lo, hi = prod.indptr[i], prod.indptr[i + 1]
            g, r, cols = grade[lo:hi], rel[lo:hi], prod.indices[lo:hi]
            if np.count_nonzero(g) < _MIN_RELEVANT and hi > lo:  # the best available still count as relevant
                top = _top(r, _MIN_RELEVANT)
                g[top] = np.maximum(g[top], 1)
            hit = np.flatnonzero(g)
            truth.extend(zip([start + i] * len(hit), cols[hit].tolist(), g[hit].tolist(), strict=True))
            events.extend(_simulate_feedback(rng, start + i, cols, r, g, consenting, lat.t_consent, need_times))
        if progress:
            progress("truth", min(start + chunk, n_needs), n_needs)
    return truth, events


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, largest first (partition, then sort only those)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.argpartition(-values, k - 1)[:k] if k < len(values) else np.arange(len(values))
    return idx[np.argsort(-values[idx], kind="stable")]


def _simulate_feedback(
    rng: np.random.Generator,
    need: int,
    cols: np.ndarray,
    rel: np.ndarray,
    grade: np.ndarray,
    consenting: np.ndarray,
    consent: np.ndarray,
    need_times: list[datetime],
) -> list[dict]:
    """One legacy ranking shown to one recruiter: a noisy order of related and random consenting talents, acted on
    through a position-bias click model (examine → view → shortlist → contact → interview → hire, or reject)."""
    ok = consent[cols]
    cols, rel, grade = cols[ok], rel[ok], grade[ok]
    length = int(rng.integers(20, 31))
    legacy = rel * np.exp(rng.normal(0, 0.6, len(rel)))
    n_rel = min(len(cols), int(length * rng.uniform(0.5, 0.85)))
    top = _top(legacy, n_rel)
    shown = {int(c): (float(legacy[j]), int(grade[j])) for j, c in zip(top, cols[top], strict=True)}
    others = consenting[rng.integers(0, len(consenting), 2 * length)] if len(consenting) else consenting
    other_grade = np.zeros(len(others), dtype=np.int64)
    if len(cols):  # a random pick may still be related: it keeps its true grade
        at = np.minimum(np.searchsorted(cols, others), len(cols) - 1)
        other_grade = np.where(cols[at] == others, grade[at], 0)
    floor = float(np.min(legacy[top])) if n_rel else 0.3
    other_score = rng.uniform(0, 1.2 * floor, len(others))
    for c, s, og in zip(others.tolist(), other_score.tolist(), other_grade.tolist(), strict=True):
        if len(shown) >= length:
            break
        shown.setdefault(c, (s, og))
    order = sorted(shown.items(), key=lambda kv: -kv[1][0])
    n = len(order)
    g = np.array([kv[1][1] for kv in order], dtype=np.int64)
    pos = np.arange(n)
    u = rng.random((6, n))
    examined = u[0] < 0.95 / (1.0 + pos) ** 0.6
    shortlist = examined & (u[1] < _P_SHORTLIST[g])
    contact = shortlist & (u[2] < _P_CONTACT[g])
    interview = contact & (u[3] < _P_INTERVIEW[g])
    hire = interview & (u[4] < _P_HIRE[g])
    passed = examined & ~shortlist & (u[5] < _P_REJECT[g])
    declined = interview & ~hire & (u[5] < 0.6)
    actor = f"recruiter-{int(rng.integers(1, 13)):02d}"
    t0 = need_times[need] + timedelta(days=int(rng.integers(1, 20)), hours=int(rng.integers(0, 8)))
    out = []
    stages = (
        (np.ones(n, dtype=bool), FeedbackAction.impression, 0),
        (examined, FeedbackAction.view, 1),
        (shortlist, FeedbackAction.shortlist, 60),
        (passed, FeedbackAction.reject, 90),
        (contact, FeedbackAction.contact, 60 * 24 * 2),
        (interview, FeedbackAction.interview, 60 * 24 * 9),
        (hire, FeedbackAction.hire, 60 * 24 * 30),
        (declined, FeedbackAction.reject, 60 * 24 * 30),
    )
    for mask, action, minutes in stages:
        for p in np.flatnonzero(mask).tolist():
            out.append(
                {
                    "need": need,
                    "talent": order[p][0],
                    "action": action,
                    "position": p,
                    "actor": actor,
                    "time": t0 + timedelta(minutes=minutes + p),
                }
            )
    return out


# --------------------------------------------------------------------------------------------------------------------
# Rendering: observable records from latent state, with realistic noise.
# --------------------------------------------------------------------------------------------------------------------

_IND_WORD = {
    I.digital_economy: ("数字科技", "Digital Technology"),
    I.new_materials: ("新材料", "Advanced Materials"),
    I.new_energy: ("新能源", "New Energy"),
    I.photovoltaics: ("光伏", "Solar"),
    I.ai: ("智能", "Intelligence"),
    I.aerospace: ("航空科技", "Aerospace"),
    I.life_health: ("生物医药", "Biopharma"),
    I.semiconductors: ("半导体", "Semiconductor"),
    I.hydrogen: ("氢能", "Hydrogen"),
    I.high_end_equipment: ("装备", "Equipment"),
    I.flexible_electronics: ("柔性电子", "Flexible Electronics"),
    I.software: ("软件", "Software"),
    I.communications: ("通信", "Communications"),
    I.iot: ("物联", "IoT"),
    I.intelligent_manufacturing: ("智造", "Smart Manufacturing"),
    I.sensors: ("传感", "Sensing"),
}
_ENT_TOWNS = (
    ("嘉兴", "Jiaxing"),
    ("平湖", "Pinghu"),
    ("海宁", "Haining"),
    ("嘉善", "Jiashan"),
    ("桐乡", "Tongxiang"),
    ("海盐", "Haiyan"),
)


def _brands(rnd: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` distinct invented company brands (town + two characters), zh and en."""
    combos = [(t, a, b) for t in _ENT_TOWNS for a in _BRAND_CHARS for b in _BRAND_CHARS if a != b]
    rnd.shuffle(combos)
    if n > len(combos):
        raise ValueError(f"world: at most {len(combos)} enterprises can be named; ask for fewer needs")
    return [(t[0] + a[0] + b[0], f"{t[1]} {a[1]}{b[1].lower()}") for t, a, b in combos[:n]]


class _Renderer:
    """Per-record rendering helpers bound to one ``random.Random`` (fast scalar draws, deterministic per seed)."""

    def __init__(self, v: _Vocab, rnd: random.Random) -> None:
        self.v, self.rnd = v, rnd

    def skill(self, sid: int, lang: str) -> str:
        """The skill as someone writing in ``lang`` might name it: usually canonically, sometimes in the other
        language or by a synonym."""
        r = self.rnd.random()
        zh, en, syn = self.v.skill_zh[sid], self.v.skill_en[sid], self.v.skill_syn[sid]
        if r < 0.66:
            return zh if lang == "zh" else en
        if r < 0.84 or not syn:
            return en if lang == "zh" else zh
        return self.rnd.choice(syn)

    def area(self, a: int, lang: str) -> str:
        spec = self.v.areas[a]
        return spec.zh if lang == "zh" else spec.en

    def join(self, items: Sequence[str], lang: str) -> str:
        if lang == "zh":
            return "、".join(items)
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _render_enterprises(rnd: random.Random, n: int) -> tuple[list[Enterprise], list[list[int]]]:
    ind_pos = {ind: i for i, ind in enumerate(Industry)}
    weights = [3, 4, 3, 3, 3, 2, 3]
    out, inds = [], []
    width = max(4, len(str(n)))
    for i, (zh, en) in enumerate(_brands(rnd, n)):
        p = rnd.choices(range(len(_PLATFORMS)), weights)[0]
        plat = _PLATFORMS[p]
        industries = rnd.sample(plat[4], min(len(plat[4]), rnd.choice((1, 1, 2))))
        word_zh, word_en = _IND_WORD[industries[0]]
        names = "、".join(INDUSTRY_NAMES[x][0] for x in industries)
        out.append(
            Enterprise(
                id=f"E{i + 1:0{width}d}",
                name=f"{zh}{word_zh}科技有限公司",
                name_en=f"{en} {word_en} Co., Ltd." if rnd.random() < 0.7 else None,
                platform_id=plat[0] if rnd.random() < 0.95 else None,
                industries=industries,
                description=f"位于{plat[1]}，主营{names}相关产品研发与产业化。" if rnd.random() < 0.8 else None,
                contact_email=f"hr{i + 1}@{en.split()[1].lower()}.example.cn" if rnd.random() < 0.6 else None,
            )
        )
        inds.append([ind_pos[x] for x in industries])
    return out, inds


_NEED_TITLES = {
    NeedKind.special_researcher: (
        ("{area}方向特聘研究员", "特聘专家（{skill}）", "{skill}领域特聘研究员（每年驻嘉{months}个月）"),
        (
            "Special researcher in {area}",
            "Visiting special researcher – {skill}",
            "{skill} special researcher ({months} months a year in Jiaxing)",
        ),
    ),
    NeedKind.enclave: (
        ("上海飞地研发中心{area}工程师", "{skill}研发负责人（上海虹桥飞地）"),
        ("{skill} R&D lead (Shanghai enclave)", "{area} engineer, Hongqiao innovation centre"),
    ),
    NeedKind.full_time: (
        ("{skill}高级工程师", "{area}首席科学家", "{area}技术总监", "{skill}研发经理"),
        ("Senior {skill} engineer", "Chief scientist, {area}", "Head of {area} R&D", "{skill} R&D manager"),
    ),
    NeedKind.incubation_project: (
        ("{area}海外孵化项目落地", "引进{skill}创业团队"),
        ("Overseas {area} venture relocating to Jiaxing", "{skill} start-up team (incubation project)"),
    ),
}
_VAGUE_TITLES = (("高层次人才引进", "研发岗位", "技术专家"), ("R&D position", "Technical expert", "High-level talent"))


def _render_need(rd: _Renderer, lat: _Latent, i: int, width: int, ent_ids: list[str], created: datetime) -> Need:
    rnd, v = rd.rnd, rd.v
    lang = "en" if rnd.random() < 0.22 else "zh"
    li = 0 if lang == "zh" else 1
    kind = _KINDS[lat.n_kind[i]]
    row = lat.n_skills.getrow(i)
    sids = row.indices[np.argsort(-row.data, kind="stable")].tolist()
    months = int(lat.n_months[i])
    area = int(lat.n_area[i])
    if rnd.random() < 0.1:
        title = rnd.choice(_VAGUE_TITLES[li])
    else:
        title = rnd.choice(_NEED_TITLES[kind][li]).format(
            area=rd.area(area, lang), skill=rd.skill(sids[0], lang), months=months
        )
    dlang = lang if rnd.random() < 0.85 else ("en" if lang == "zh" else "zh")
    shown = [rd.skill(s, dlang) for s in sids if rnd.random() < 0.75] or [rd.skill(sids[0], dlang)]
    tier = _TIERS[lat.n_min_tier[i]]
    if rnd.random() < 0.15:
        description = "待遇优厚，详情面议。" if dlang == "zh" else "Competitive package; details on request."
    elif dlang == "zh":
        description = f"负责{rd.area(area, 'zh')}相关技术研发与团队建设。要求熟悉{rd.join(shown, 'zh')}。"
        description += f"要求{tier.value}类及以上人才。" if tier else ""
        description += f"每年在嘉兴工作不少于{months}个月。" if months else ""
        description += "工作地点：上海虹桥飞地创新中心。" if kind is NeedKind.enclave else ""
    else:
        description = f"Lead R&D in {rd.area(area, 'en')}. Experience with {rd.join(shown, 'en')} required."
        description += f" Tier {tier.value} or above." if tier else ""
        description += f" At least {months} months a year in Jiaxing." if months else ""
        description += " Based at the Shanghai Hongqiao enclave." if kind is NeedKind.enclave else ""
    required = [rd.skill(s, lang) for s in sids if rnd.random() < 0.7] if rnd.random() < 0.9 else []
    langs = [code for code, need in (("zh", lat.n_lang_zh[i]), ("en", lat.n_lang_en[i])) if need]
    budget = float(lat.n_budget[i])
    status = rnd.choices(list(NeedStatus), (80, 8, 7, 5))[0]
    return Need(
        id=f"N{i + 1:0{width}d}",
        title=title,
        description=description,
        enterprise_id=ent_ids[lat.n_enterprise[i]],
        kind=kind,
        required_skills=required,
        disciplines=[v.leaf_codes[c] for c in lat.n_leaves.getrow(i).indices] if rnd.random() < 0.5 else [],
        industry=v.industries[lat.n_industry[i]] if rnd.random() < 0.85 else None,
        min_tier=tier,
        site=Site.shanghai_enclave if kind is NeedKind.enclave else Site.jiaxing,
        months_per_year=months or None,
        duration_years=float(rnd.choice((1, 2, 3)))
        if kind in (NeedKind.special_researcher, NeedKind.enclave)
        else None,
        salary_budget=None if np.isnan(budget) else budget,
        languages=langs if rnd.random() < 0.6 else [],
        status=status,
        created_at=created,
        updated_at=created + timedelta(days=rnd.randint(0, 30)),
    )


_WORK_TITLES = {
    WorkKind.paper: (
        ("基于{s1}的{s2}方法研究", "面向{area}的{s1}关键问题研究", "{s1}在{s2}中的应用"),
        ("{S1} for {s2}: methods and applications", "Towards efficient {s1} in {area}", "On {s1} and {s2}"),
    ),
    WorkKind.patent: (
        ("一种基于{s1}的{s2}装置及方法", "一种{s1}系统"),
        ("Method and apparatus for {s1} using {s2}", "System for {s1}"),
    ),
    WorkKind.project: (
        ("{area}关键技术研究与产业化", "{s1}与{s2}集成示范项目"),
        ("Key technologies of {s1} for {area}", "{S1} demonstration project"),
    ),
}
_ABSTRACTS = (
    "针对{area}中的关键问题，本文提出一种结合{s1}与{s2}的新方法，实验表明性能显著提升。",
    "We combine {s1} with {s2} to address open problems in {area}; experiments show clear gains.",
)
_VAGUE_SUMMARIES = (
    ("具有多年研发与团队管理经验，熟悉科研成果产业化。", "资深科研人员，跨学科背景。"),
    (
        "Seasoned R&D leader with cross-disciplinary experience.",
        "Experienced researcher with a record in industry and academia.",
    ),
)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _render_talents(v: _Vocab, lat: _Latent, start: int, stop: int, seed: int, inc_ids: list[str]) -> list[bytes]:
    """JSON lines of talents ``start..stop``: each a validated ``Talent`` rendered from latent state with noise."""
    rnd = random.Random(seed)
    rd = _Renderer(v, rnd)
    width = max(6, len(str(len(lat.t_area))))
    sk = lat.t_skills[start:stop]
    lv = lat.t_leaves[start:stop]
    cols = {
        k: getattr(lat, k)[start:stop].tolist()
        for k in (
            "t_area",
            "t_area2",
            "t_tier",
            "t_quality",
            "t_origin",
            "t_country",
            "t_abroad",
            "t_city",
            "t_yrd",
            "t_relocate",
            "t_short_months",
            "t_shanghai_ok",
            "t_lang_zh",
            "t_lang_en",
            "t_salary",
            "t_incubator",
            "t_consent",
            "t_study_country",
            "t_pubs",
            "t_patents",
        )
    }
    sk_ind, sk_ptr, sk_w = sk.indices.tolist(), sk.indptr.tolist(), sk.data.tolist()
    lv_ind, lv_ptr = lv.indices.tolist(), lv.indptr.tolist()
    out = []
    for j in range(stop - start):
        c = {k: col[j] for k, col in cols.items()}
        skills = [
            s
            for _, s in sorted(
                zip(sk_w[sk_ptr[j] : sk_ptr[j + 1]], sk_ind[sk_ptr[j] : sk_ptr[j + 1]], strict=True), reverse=True
            )
        ]
        leaves = [v.leaf_codes[x] for x in lv_ind[lv_ptr[j] : lv_ptr[j + 1]]]
        t = _render_talent(rd, start + j, width, c, skills, leaves, inc_ids)
        out.append(orjson.dumps(dump(t)))
    return out


def _render_talent(
    rd: _Renderer, idx: int, width: int, c: dict, skills: list[int], leaves: list[str], inc_ids: list[str]
) -> Talent:
    rnd, v = rd.rnd, rd.v
    origin, tier, area = c["t_origin"], c["t_tier"], c["t_area"]
    country = _FOREIGN[c["t_country"]] if c["t_country"] >= 0 else "CN"
    lang = "zh" if rnd.random() < (0.85, 0.55, 0.25, 0.05)[origin] else "en"
    sparse = rnd.random() < 0.15
    # Names: Chinese for Chinese nationals and foreign nationals of Chinese origin, native otherwise.
    name_zh = name_en = None
    if origin <= 2:
        sur = rnd.choice(_SURNAMES)
        given = [rnd.choice(_GIVEN) for _ in range(rnd.choice((1, 2, 2)))]
        name_zh = sur[0] + "".join(g[0] for g in given)
        given_en = given[0][1] + "".join(g[1].lower() for g in given[1:])
        latin = f"{given_en} {sur[1]}"
        if origin >= 1 or rnd.random() < 0.3:
            name_en = latin
        name = name_zh if origin <= 1 else name_en
        if origin == 2 and rnd.random() < 0.4:
            name_zh = None
    else:
        firsts, lasts = _FOREIGN_NAMES[_COUNTRIES[country][1]]
        name = name_en = latin = f"{rnd.choice(firsts)} {rnd.choice(lasts)}"
    # Residence.
    if c["t_abroad"]:
        res_country = country if country != "CN" else _FOREIGN[c["t_study_country"]]
        cities = _COUNTRIES[res_country][2]
        residence = dict(
            country=res_country, city=cities[c["t_city"] % len(cities)], in_yrd=False if rnd.random() < 0.5 else None
        )
    else:
        zh, en, yrd, _ = _CN_CITIES[c["t_city"]]
        residence = dict(country="CN", city=zh if lang == "zh" else en, in_yrd=yrd if rnd.random() < 0.75 else None)
    # Education, employer and position.
    study = _FOREIGN[c["t_study_country"]] if origin == 1 else (country if origin >= 2 else "CN")
    education: list[dict] = []
    year = rnd.randint(1988, 2021) - 4 * tier
    field = rd.area(area, lang)
    if not sparse:
        if study == "CN":
            uni = rnd.choice(_CN_UNIS)
            inst = uni[0] if lang == "zh" else uni[1]
        else:
            inst = rnd.choice(_COUNTRIES[study][3])
        degree = Degree.phd if rnd.random() < 0.55 + 0.1 * tier else rnd.choice((Degree.master, Degree.postdoc))
        education.append(
            dict(degree=degree, institution=inst, field=field if rnd.random() < 0.7 else None, year=year, country=study)
        )
        if rnd.random() < 0.5:
            uni = rnd.choice(_CN_UNIS) if origin <= 1 else None
            education.append(
                dict(
                    degree=Degree.bachelor,
                    institution=(uni[0] if lang == "zh" else uni[1]) if uni else rnd.choice(_COUNTRIES[country][3]),
                    year=year - 6,
                    country="CN" if uni else country,
                )
            )
    pos_zh, pos_en = rnd.choice(_POSITIONS)
    if c["t_abroad"]:
        employer = rnd.choice(_COUNTRIES[residence["country"]][3])
    elif rnd.random() < 0.45:
        uni = rnd.choice(_CN_UNIS)
        employer = uni[0] if lang == "zh" else uni[1]
    else:
        b1, b2 = rnd.sample(_BRAND_CHARS, 2)
        word = _IND_WORD[v.industries[v.area_primary_ind[area]]] if v.areas[area].industries else ("科技", "Tech")
        employer = f"{b1[0]}{b2[0]}{word[0]}有限公司" if lang == "zh" else f"{b1[1]}{b2[1].lower()} {word[1]} Ltd."
    honours = []
    if tier and rnd.random() < 0.9:
        h = rnd.choice(_HONOURS[tier])
        honours.append(h[0] if lang == "zh" else h[1])
    # Skills as written: some missing, some by synonym or in the other language, some generic filler.
    keep = 0.4 if sparse else 0.75
    shown = [rd.skill(s, lang) for s in skills if rnd.random() < keep]
    if rnd.random() < 0.25:
        g = rnd.choice(_GENERIC_SKILLS)
        shown.append(g[0] if lang == "zh" else g[1])
    summary = None
    r = rnd.random()
    if not sparse and r < 0.75:
        s_names = [rd.skill(s, lang) for s in skills[:3]]
        if lang == "zh":
            summary = f"{employer}{pos_zh}，主要研究方向为{rd.area(area, 'zh')}，擅长{rd.join(s_names, 'zh')}。"
            if origin == 1:
                summary += f"曾在{_COUNTRY_ZH[study]}学习工作多年。"
        else:
            summary = (
                f"{pos_en} at {employer}, working on {rd.area(area, 'en')}; expertise in {rd.join(s_names, 'en')}."
            )
    elif not sparse and r < 0.87:
        summary = rnd.choice(_VAGUE_SUMMARIES[0 if lang == "zh" else 1])
    # Works: they mention latent skills (even ones the skills list omits), mostly in English for papers.
    works = []
    n_works = 0 if sparse else min(5, int(rnd.expovariate(1.0 / (1.0 + 0.6 * tier))))
    for _ in range(n_works):
        kind = rnd.choices((WorkKind.paper, WorkKind.patent, WorkKind.project), (60, 25, 15))[0]
        wl = "en" if kind is WorkKind.paper and rnd.random() < 0.7 else lang
        s1, s2 = (rd.skill(rnd.choice(skills), wl) for _ in range(2))
        args = dict(s1=s1, s2=s2, S1=_cap(s1), area=rd.area(area, wl))
        title = rnd.choice(_WORK_TITLES[kind][0 if wl == "zh" else 1]).format(**args)
        abstract = _ABSTRACTS[0 if wl == "zh" else 1].format(**args) if rnd.random() < 0.4 else None
        works.append(dict(title=title, abstract=abstract, kind=kind, year=min(2025, year + rnd.randint(1, 15))))
    pubs = 0 if sparse else c["t_pubs"]
    h_index = max(0, round(pubs**0.5 * (1.1 + 0.15 * c["t_quality"]))) if pubs else 0
    # Availability and sites from latent willingness.
    months = c["t_short_months"]
    if c["t_relocate"]:
        availability = {}
    elif months:
        availability = dict(mode="short_term", months_per_year=months if rnd.random() < 0.92 else None)
    else:
        availability = dict(mode="remote")
    sites = []
    if rnd.random() < 0.65:
        if c["t_relocate"] or months:
            sites.append(Site.jiaxing)
        if c["t_shanghai_ok"]:
            sites.append(Site.shanghai_enclave)
        if c["t_abroad"]:
            sites.append(Site.abroad)
    langs = ["zh"] * c["t_lang_zh"] + ["en"] * c["t_lang_en"]
    if country != "CN" and origin == 3:
        langs.append(_COUNTRIES[country][4])
    incubator = c["t_incubator"]
    matching = c["t_consent"]
    foreign_side = origin >= 2 or c["t_abroad"]
    updated = _NOW - timedelta(days=rnd.randint(0, 1000), minutes=rnd.randint(0, 1439))
    local = latin.split()[0].lower().encode("ascii", "ignore").decode()
    return Talent(
        id=f"T{idx + 1:0{width}d}",
        name=name,
        name_zh=name_zh,
        name_en=name_en,
        summary=summary,
        skills=shown,
        email=f"{local}.{idx + 1}@example.com" if rnd.random() < 0.5 else None,
        phone=f"+86 13{rnd.randint(0, 999_999_999):09d}" if not foreign_side and rnd.random() < 0.3 else None,
        nationality=country if rnd.random() < 0.9 else None,
        residence=residence,
        languages=langs if rnd.random() < 0.85 else [],
        education=education,
        employer=employer if rnd.random() < 0.85 else None,
        tier=_TIERS[tier] if rnd.random() < 0.92 else None,
        honours=honours,
        disciplines=rnd.sample(leaves, rnd.randint(1, len(leaves))) if not sparse and rnd.random() < 0.6 else [],
        works=works,
        publication_count=pubs,
        patent_count=0 if sparse else c["t_patents"],
        h_index=h_index,
        availability=availability,
        sites=sites,
        salary_expectation=round(c["t_salary"] / 5) * 5.0 if rnd.random() < 0.5 else None,
        incubator_id=inc_ids[incubator] if incubator >= 0 and rnd.random() < 0.9 else None,
        consent=dict(
            matching=matching,
            sharing=matching and rnd.random() < 0.6,
            cross_border=matching and rnd.random() < (0.35 if foreign_side else 0.1),
            automated_decision_opt_out=rnd.random() < 0.03,
            updated_at=updated,
        ),
        updated_at=updated,
    )


# --------------------------------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------------------------------

_vocab: _Vocab | None = None


def _get_vocab() -> _Vocab:
    global _vocab
    if _vocab is None:
        _vocab = _Vocab()
    return _vocab


def _default_needs(talents: int) -> int:
    return int(min(2000, max(40, talents // 20)))


def generate_world(
    out_dir: Path,
    *,
    talents: int = 5000,
    seed: int = 0,
    needs: int | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a demo world (the six record files plus ``truth.jsonl``) into ``out_dir``; same seed, same bytes.

    Sizes: ``needs`` defaults to one per 20 talents (40 to 2,000), enterprises to one per two needs. Files are
    written under temporary names and moved into place only when all are complete, so a failure leaves no
    half-written world. ``progress(stage, done, total)`` reports the stages ``latent``, ``truth`` and ``talents``.
    Returns the number of lines written per file name.
    """
    out_dir = Path(out_dir)
    for name, value, low in (("talents", talents, 1), ("seed", seed, 0), ("needs", needs, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise ValueError(f"world generate: --{name} must be an integer >= {low}, got {value!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"world generate: {out_dir} exists and is not a directory; pass a directory path")
    n_needs = needs if needs is not None else _default_needs(talents)
    v = _get_vocab()
    ss = np.random.SeedSequence(seed)
    s_ent, s_need, s_tal, s_truth, s_rneed, s_rtal = ss.spawn(6)

    platforms = [
        Platform(id=p[0], name=p[1], name_en=p[2], district=p[3], industries=list(p[4]), description=p[5])
        for p in _PLATFORMS
    ]
    incubators = [
        Incubator(
            id=x[0],
            name=x[1],
            name_en=x[2],
            country=x[3],
            city=x[4],
            city_zh=x[5],
            city_synthetic=True,
            focus_industries=list(x[6]),
            focus_disciplines=sorted({c for ind in x[6] for a in v.areas_of_industry[ind] for c in v.areas[a].nsfc}),
        )
        for x in _INCUBATORS
    ]
    ent_rnd = random.Random(int(s_ent.generate_state(1)[0]))
    enterprises, ent_ind = _render_enterprises(ent_rnd, max(1, n_needs // 2))
    need_lat = _draw_needs(np.random.default_rng(s_need), v, n_needs, ent_ind)
    tal_lat = _draw_talents(np.random.default_rng(s_tal), v, talents, need_lat["n_area"])
    lat = _Latent(**need_lat, **tal_lat)
    if progress:
        progress("latent", 1, 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = {name: out_dir / f".{name}.tmp" for name in (*_RECORD_FILES, TRUTH_FILE)}
    counts: dict[str, int] = {}
    inc_ids = [x[0] for x in _INCUBATORS]
    try:
        with _TalentJobs(v, lat, s_rtal, inc_ids, workers=min(2, os.cpu_count() or 1)) as talent_jobs:
            rnd_need = random.Random(int(s_rneed.generate_state(1)[0]))
            need_times = [
                _NOW - timedelta(days=rnd_need.randint(40, 420), minutes=rnd_need.randint(0, 1439))
                for _ in range(n_needs)
            ]
            truth, events = _truth_and_feedback(v, lat, np.random.default_rng(s_truth), need_times, progress)
            need_width = max(5, len(str(n_needs)))
            ent_ids = [e.id for e in enterprises]
            rd = _Renderer(v, rnd_need)
            need_records = [_render_need(rd, lat, i, need_width, ent_ids, need_times[i]) for i in range(n_needs)]
            for name, records in (
                ("platforms.jsonl", platforms),
                ("incubators.jsonl", incubators),
                ("enterprises.jsonl", enterprises),
                ("needs.jsonl", need_records),
            ):
                counts[name] = _write_records(tmp[name], records)
            counts["talents.jsonl"] = talent_jobs.write(tmp["talents.jsonl"], progress)
        need_ids = [n.id for n in need_records]
        tal_width = max(6, len(str(talents)))
        counts["feedback.jsonl"] = _write_records(
            tmp["feedback.jsonl"],
            (
                FeedbackEvent(
                    need_id=need_ids[e["need"]],
                    talent_id=f"T{e['talent'] + 1:0{tal_width}d}",
                    action=e["action"],
                    position=e["position"],
                    actor=e["actor"],
                    time=e["time"],
                    model_version="legacy",
                    ranking_id=f"legacy-{need_ids[e['need']]}",
                )
                for e in events
            ),
        )
        row = '{"need_id":"%s","talent_id":"T%0' + str(tal_width) + 'd","grade":%d}\n'  # ids are plain ASCII
        with tmp[TRUTH_FILE].open("w", encoding="utf-8") as fh:
            fh.writelines(row % (need_ids[n], t + 1, g) for n, t, g in truth)
        counts[TRUTH_FILE] = len(truth)
        for name, path in tmp.items():
            os.replace(path, out_dir / name)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    return counts


_RECORD_FILES = (
    "platforms.jsonl",
    "incubators.jsonl",
    "enterprises.jsonl",
    "needs.jsonl",
    "talents.jsonl",
    "feedback.jsonl",
)


def _write_records(path: Path, records: Sequence[Record] | object) -> int:
    n = 0
    with path.open("wb") as fh:
        for r in records:  # type: ignore[attr-defined]
            fh.write(orjson.dumps(dump(r)) + b"\n")
            n += 1
    return n


_TALENT_CHUNK = 5000
_forked: tuple[_Vocab, _Latent, list[str]] | None = None  # what forked workers inherit from their parent


class _TalentJobs:
    """Talents rendered in fixed chunks, each with its own seed, so the bytes never depend on scheduling. With
    several chunks and ``fork`` available the chunks render in worker processes, overlapping the truth stage."""

    def __init__(self, v: _Vocab, lat: _Latent, ss: np.random.SeedSequence, inc_ids: list[str], workers: int) -> None:
        n = len(lat.t_area)
        starts = range(0, n, _TALENT_CHUNK)
        seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(len(starts))]
        self.jobs = [(start, min(n, start + _TALENT_CHUNK), seed) for start, seed in zip(starts, seeds, strict=True)]
        self.v, self.lat, self.inc_ids, self.n = v, lat, inc_ids, n
        parallel = workers > 1 and len(self.jobs) > 1 and "fork" in multiprocessing.get_all_start_methods()
        self.workers = workers if parallel else 0
        self.pool: multiprocessing.pool.Pool | None = None

    def __enter__(self) -> _TalentJobs:
        global _forked
        if self.workers:
            _forked = (self.v, self.lat, self.inc_ids)
            try:
                self.pool = multiprocessing.get_context("fork").Pool(self.workers)
            finally:
                _forked = None
            self.results = self.pool.imap(_render_job, self.jobs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def write(self, path: Path, progress: Progress | None) -> int:
        with path.open("wb") as fh:
            for start, stop, seed in self.jobs:
                lines = (
                    next(self.results)
                    if self.pool
                    else _render_talents(self.v, self.lat, start, stop, seed, self.inc_ids)
                )
                fh.write(b"\n".join(lines) + b"\n")
                if progress:
                    progress("talents", stop, self.n)
        return self.n


def _render_job(job: tuple[int, int, int]) -> list[bytes]:
    assert _forked is not None, "talent worker started without the parent's latent state"
    v, lat, inc_ids = _forked
    return _render_talents(v, lat, *job, inc_ids)
