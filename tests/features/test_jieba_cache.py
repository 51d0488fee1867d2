"""The jieba dictionary kept in the data directory (``features.text._load_jieba``, loaded by ``preload`` at a server
start) segments exactly as the one built by jieba: same dictionary, same tokens."""

import json
import logging
import subprocess
import sys

import pytest

from features import text

TEXTS = [
    "钙钛矿太阳能电池的稳定性研究 perovskite solar cells",
    "负责锂电池正极材料研发，熟悉高镍三元材料，具备深度学习经验者优先",
    "RISC-V 处理器架构设计与验证；集成电路、芯片设计、嵌入式系统",
    "新能源汽车动力电池管理系统 BMS 算法工程师，计算机视觉与自然语言处理",
    "生物医药 单克隆抗体 药物筛选 高通量测序 基因编辑 CRISPR",
]


@pytest.fixture(scope="module")
def built():
    return text._load_jieba(None)


def segments(tk) -> list[list[str]]:
    return [list(tk.cut_for_search(t, HMM=False)) for t in TEXTS]


def test_the_kept_dictionary_is_jiebas_and_segments_the_same(built, tmp_path):
    first = text._load_jieba(tmp_path)  # builds, writes the file
    kept = list(tmp_path.glob("jieba-*.dict"))
    assert len(kept) == 1 and (tmp_path / "jieba.cache").is_file()  # jieba's own cache here too, not in /tmp
    again = text._load_jieba(tmp_path)  # reads the file
    for tk in (first, again):
        assert tk.total == built.total and tk.FREQ == built.FREQ
        assert segments(tk) == segments(built)
    assert not list(tmp_path.glob(".jieba-*"))  # no temporary file left behind


def test_a_damaged_file_is_rebuilt_with_a_warning(built, tmp_path, caplog):
    text._load_jieba(tmp_path)
    (kept,) = tmp_path.glob("jieba-*.dict")
    kept.write_bytes(kept.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="features.text"):
        tk = text._load_jieba(tmp_path)
    assert "unreadable" in caplog.text and tk.FREQ == built.FREQ
    assert text._load_jieba(tmp_path).FREQ == built.FREQ  # written whole again


def test_preload_in_a_fresh_process_gives_the_same_tokens(tmp_path):
    code = (
        "import json, sys; from features import text; text.preload(sys.argv[1]).join(); "
        "print(json.dumps([text.tokenize(t) for t in json.loads(sys.argv[2])]))"
    )
    for _ in range(2):  # builds the file, then reads it
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cache"), json.dumps(TEXTS)],
                              capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
        assert json.loads(done.stdout) == [text.tokenize(t) for t in TEXTS]
        assert len(list((tmp_path / "cache").glob("jieba-*.dict"))) == 1


def test_a_missing_cache_directory_is_made_without_jiebas_traceback(built, tmp_path, caplog):
    where = tmp_path / "not" / "yet"  # a fresh deployment's data directory
    with caplog.at_level(logging.DEBUG):
        tk = text._load_jieba(where)
    assert tk.FREQ == built.FREQ
    assert (where / "jieba.cache").is_file() and len(list(where.glob("jieba-*.dict"))) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
