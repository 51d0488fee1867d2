"""Every string the console shows, in Chinese (the default) and English: one catalogue, so a page never mixes
languages and a translation is one edit. Record values (titles, names, reasons) come in the record's own words;
the reasons carry both languages and the page picks one."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT: Lang = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
"""The ``<html lang>`` value per language."""

CATALOGUE: dict[str, tuple[str, str]] = {
    # key: (zh, en)
    "app": ("人才匹配控制台", "talentmatch console"),
    "skip": ("跳到正文", "Skip to content"),
    "switch_lang": ("English", "中文"),
    "switch_lang_label": ("Switch to English", "切换到中文"),
    "nav": ("主导航", "Main"),
    "nav.needs": ("需求", "Needs"),
    "nav.search": ("检索人才", "Search talent"),
    "signed_in_as": ("已登录：{who}", "Signed in: {who}"),
    "signout": ("退出登录", "Sign out"),
    # sign in
    "signin.title": ("登录", "Sign in"),
    "signin.key": ("API 密钥", "API key"),
    "signin.help": (
        "输入管理员发给您的 API 密钥（以 tm_ 开头）。",
        "Enter the API key an admin gave you (it starts with tm_).",
    ),
    "signin.submit": ("登录", "Sign in"),
    "signin.bad": ("密钥无效或已吊销，请向管理员索取新密钥。", "Unknown or revoked key; ask an admin for a new one."),
    "signin.empty": ("请输入 API 密钥。", "Enter an API key."),
    # errors
    "error.title": ("出错了", "Something went wrong"),
    "error.403": ("无权执行此操作", "Not allowed"),
    "error.404": ("未找到", "Not found"),
    "error.409": ("无法执行", "Conflict"),
    "error.422": ("输入无效", "Invalid input"),
    "error.429": ("已超出今日额度", "Daily quota used"),
    "error.503": ("服务暂不可用", "Unavailable"),
    "error.csrf": (
        "表单已过期或来源不明，请返回页面重试。",
        "The form expired or did not come from this console; go back, reload and retry.",
    ),
    "error.back": ("返回需求列表", "Back to the needs"),
    "error.field": ("字段：{field}", "Field: {field}"),
    # needs list
    "needs.title": ("需求", "Needs"),
    "needs.filters": ("筛选", "Filters"),
    "needs.apply": ("筛选", "Apply"),
    "needs.any": ("全部", "Any"),
    "needs.none": ("没有符合条件的需求。", "No needs match."),
    "needs.total": ("共 {n} 条", "{n} in all"),
    "needs.count": ("候选人数", "Candidates"),
    "needs.count_hint": ("排序后的候选人数（打开需求时计算）", "Ranked candidates (computed when the need is opened)"),
    "needs.rank": ("计算", "Count"),
    "field.id": ("编号", "ID"),
    "field.title": ("标题", "Title"),
    "field.kind": ("岗位类型", "Post kind"),
    "field.platform": ("平台", "Platform"),
    "field.enterprise": ("企业", "Enterprise"),
    "field.status": ("状态", "Status"),
    "field.skills": ("技能", "Skills"),
    "field.site": ("工作地点", "Work site"),
    # a need
    "need.candidates": ("候选人", "Candidates"),
    "need.ranked": ("共排序 {n} 人", "{n} ranked"),
    "need.model": ("模型：{v}", "Model: {v}"),
    "need.no_model": ("非个性化排序（规则与文本相关度）", "Non-personalised (rules and text relevance)"),
    "need.why_plain": ("未使用学习模型，原因（英文）：", "No learned model was used: "),
    "need.personalized": ("个性化排序（学习模型）", "Personalised (learned model)"),
    "need.toggle_plain": ("改用非个性化排序", "Use the non-personalised ranking"),
    "need.toggle_model": ("改用个性化排序", "Use the personalised ranking"),
    "need.rules": ("规则及其排除人数", "Rules and how many each removed"),
    "need.rule": ("规则", "Rule"),
    "need.removed": ("排除人数", "Removed"),
    "need.no_removed": ("没有候选人被规则排除。", "No candidate was removed by a rule."),
    "need.filtered": ("被筛选条件排除：{n} 人", "Removed by the filters: {n}"),
    "need.receipt": ("决策记录：{id}", "Decision receipt: {id}"),
    "need.none": ("没有候选人。", "No candidates."),
    "need.prev": ("上一页", "Previous"),
    "need.next": ("下一页", "Next"),
    "need.page": ("第 {a}–{b} 名", "Positions {a}–{b}"),
    "need.filters": ("候选人筛选", "Candidate filters"),
    "need.recorded": ("已记录：{talent} — {action}", "Recorded: {talent} — {action}"),
    "col.position": ("名次", "#"),
    "col.candidate": ("候选人", "Candidate"),
    "col.score": ("得分", "Score"),
    "col.tier": ("层次", "Tier"),
    "col.residence": ("常住地", "Residence"),
    "col.availability": ("可工作时间", "Availability"),
    "col.languages": ("语言", "Languages"),
    "col.reasons": ("理由", "Reasons"),
    "col.actions": ("操作", "Actions"),
    "masked": ("（已隐藏：未同意共享）", "(hidden: no sharing consent)"),
    "masked_name": ("姓名已隐藏", "Name withheld"),
    "human_review": ("需人工复核", "Human review"),
    "human_review_hint": (
        "本人拒绝纯自动化决策：须由人工审核",
        "The talent refused a purely automated decision: a person must review",
    ),
    "yrd": ("长三角", "YRD"),
    "unknown": ("未说明", "not stated"),
    "months": ("每年 {n} 个月", "{n} months a year"),
    "action.shortlist": ("入围", "Shortlist"),
    "action.contact": ("联系", "Contact"),
    "action.interview": ("面试", "Interview"),
    "action.hire": ("录用", "Hire"),
    "action.reject": ("拒绝", "Reject"),
    "action.for": ("{action}：{who}", "{action}: {who}"),
    # filters
    "filter.tier": ("人才层次", "Tier"),
    "filter.nationality": ("国籍", "Nationality"),
    "filter.residence": ("常住国家", "Residence country"),
    "filter.site": ("工作地点", "Work site"),
    "filter.language": ("语言", "Language"),
    "filter.incubator": ("孵化器", "Incubator"),
    "filter.k": ("每页人数", "Per page"),
    "filter.codes_hint": ("多个值用空格分隔，如 CN DE", "Separate several with spaces, e.g. CN DE"),
    # search
    "search.title": ("检索人才", "Search talent"),
    "search.q": ("关键词（中文或英文）", "Keywords (Chinese or English)"),
    "search.submit": ("检索", "Search"),
    "search.kind_hint": ("适用该岗位类型的硬性规则", "The hard rules of this post kind apply"),
    "search.results": ("检索结果", "Results"),
    "search.plain": (
        "检索始终为非个性化排序（文本相关度）。",
        "Searches are always non-personalised (text relevance).",
    ),
    # a talent
    "talent.title": ("人才：{name}", "Talent: {name}"),
    "talent.profile": ("档案", "Profile"),
    "talent.name_en": ("英文名", "English name"),
    "talent.summary": ("简介", "Summary"),
    "talent.contact": ("联系方式", "Contact"),
    "talent.nationality": ("国籍", "Nationality"),
    "talent.employer": ("单位", "Employer"),
    "talent.works": ("成果", "Works"),
    "talent.consent": ("同意情况", "Consents"),
    "talent.needs": ("适合的开放需求", "Open needs that fit"),
    "talent.no_needs": ("没有适合的开放需求。", "No open need fits."),
    "talent.receipts": ("为何推荐此人：排序决策记录", "Why this candidate: the decision receipts"),
    "talent.no_receipts": ("此人尚未出现在任何排序中。", "Not yet shown in any ranking."),
    "talent.search": ("自由文本检索", "free-text search"),
    "talent.at": ("第 {p} 名，得分 {s}", "position {p}, score {s}"),
    "talent.contrib": ("特征贡献（正值推高排名）", "Feature contributions (positive values raise the rank)"),
    "talent.contrib_none": ("此记录没有特征贡献。", "No feature contributions recorded."),
    "talent.rules_applied": ("规则排除", "Removed by rules"),
    "talent.erased": ("已删除", "erased"),
    "consent.matching": ("匹配", "matching"),
    "consent.sharing": ("向企业共享", "sharing with enterprises"),
    "consent.cross_border": ("跨境传输", "cross-border transfer"),
    "consent.automated_decision_opt_out": ("拒绝纯自动化决策", "refuses purely automated decisions"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # record values
    "kind.special_researcher": ("特聘研究员", "special researcher"),
    "kind.enclave": ("飞地引才", "enclave"),
    "kind.full_time": ("全职", "full time"),
    "kind.incubation_project": ("孵化项目", "incubation project"),
    "status.open": ("开放", "open"),
    "status.paused": ("暂停", "paused"),
    "status.filled": ("已招满", "filled"),
    "status.closed": ("已关闭", "closed"),
    "mode.full_time": ("全职", "full time"),
    "mode.short_term": ("短期", "short term"),
    "mode.remote": ("远程", "remote"),
    "site.jiaxing": ("嘉兴", "Jiaxing"),
    "site.shanghai_enclave": ("上海飞地", "Shanghai enclave"),
    "site.abroad": ("境外", "abroad"),
    "rule.consent": ("同意匹配", "consent"),
    "rule.tier": ("人才层次", "tier"),
    "rule.availability": ("可工作时间", "availability"),
    "rule.site": ("工作地点", "site"),
    "rule.language": ("语言", "language"),
    "rule.work_permit": ("工作许可", "work permit"),
}


def text(lang: Lang, key: str, **values: object) -> str:
    """The catalogue string for ``key`` in ``lang``, formatted with ``values``; an unknown key is a bug (KeyError)."""
    s = CATALOGUE[key][0 if lang == "zh" else 1]
    return s.format(**values) if values else s


def label(lang: Lang, group: str, value: object) -> str:
    """A record value's label (``kind``, ``status``, ``mode``, ``site``, ``rule``, ``action``), or the value itself
    when the catalogue has none (a rule added later still shows)."""
    pair = CATALOGUE.get(f"{group}.{value}")
    return str(value) if pair is None else pair[0 if lang == "zh" else 1]
