"""Warning texts pushed to an ERP or CRM follow its source's `language` setting (issue 16 §1):
the level, hold and change id are the same for every target; the reasons and the collection
step are in the target's language, English by default."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from config.sources import SourceConfigError, check_source
from connector.cli import main
from sync.push import push_pending
from sync.warnings import compute_warnings
from tests.sync.test_warnings_and_outbox import FakeTarget


@pytest.fixture
def chinese_crm(loaded, tmp_path) -> str:
    loaded.add_source("crm-zh", "csv-folder", settings={"path": str(tmp_path), "language": "zh-CN"})
    return "crm-zh"


def test_a_target_set_to_chinese_gets_chinese_reasons_and_steps(loaded, clock, chinese_crm):
    store = loaded.warning_store()
    compute_warnings(
        store.source_id("default"),
        "default",
        store=store,
        thresholds=loaded.reads.active_thresholds(),
        rates=loaded.rates,
        clock=loaded.clock,
        targets=("default", chinese_crm),
    )
    erp, crm = FakeTarget(), FakeTarget()

    push_pending({"default": erp, chinese_crm: crm}, store=store, clock=clock)

    english = {c.customer_ref: c for c in erp.applied.values()}
    chinese = {c.customer_ref: c for c in crm.applied.values()}
    assert english.keys() == chinese.keys() == {"C-200", "C-300", "C-400"}
    assert english["C-300"].reasons == (
        "oldest overdue invoice INV-3001 is 45 days overdue (more than 30)",
    )
    assert chinese["C-300"].reasons == ("最早逾期发票 INV-3001 已逾期 45 天（超过 30 天）",)
    assert english["C-300"].step == "formal overdue notice"
    assert chinese["C-300"].step == "发出正式逾期通知"
    assert chinese["C-200"].reasons == (
        "风险敞口 91,000.00 CNY，信用额度 100,000.00：已使用至少 90%",
    )
    assert chinese["C-400"].reasons == ("已冻结：delivery dispute",)
    assert chinese["C-400"].step == "启动法律程序" and chinese["C-400"].hold
    for ref in english:
        assert english[ref].change_id == chinese[ref].change_id
        assert english[ref].level == chinese[ref].level


def test_a_source_language_is_checked_and_offered_by_the_command_line():
    with pytest.raises(SourceConfigError, match="--language"):
        check_source("csv-folder", None, {"path": "/tmp", "language": "fr"})
    check_source("csv-folder", None, {"path": "/tmp", "language": "zh-CN"})

    shown = CliRunner().invoke(main, ["sources", "add", "--help"])

    assert "--language [zh-CN|en]" in shown.output
