"""The one vocabulary: orchestrators' status and type words read as ours, whatever the source."""

from __future__ import annotations

import pytest

from visionflow.swarm import (
    AgentStatus,
    AgentType,
    foreign_type_name,
    is_busy,
    parse_status,
    parse_type,
)


@pytest.mark.parametrize(
    ("word", "status"),
    [("busy", AgentStatus.BUSY), (" Working ", AgentStatus.BUSY), ("spawning", AgentStatus.INITIALIZING),
     ("done", AgentStatus.IDLE), ("unhealthy", AgentStatus.ERROR), ("stopping", AgentStatus.TERMINATING),
     ("paused", AgentStatus.OFFLINE)],
)  # fmt: skip
def test_status_words_and_their_aliases(word: str, status: AgentStatus) -> None:
    assert parse_status(word) is status


@pytest.mark.parametrize("value", ["sleepy", "", 3, None, ["busy"]])
def test_no_status_for_what_has_no_sensible_match(value: object) -> None:
    assert parse_status(value) is None


def test_every_status_and_type_reads_as_itself() -> None:
    assert [parse_status(s.value.upper()) for s in AgentStatus] == list(AgentStatus)
    assert [parse_type(t.value.title()) for t in AgentType] == list(AgentType)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("hierarchical-coordinator", AgentType.COORDINATOR), ("queen-coordinator", AgentType.QUEEN),
     ("system-architect", AgentType.ARCHITECT), ("code-reviewer", AgentType.REVIEWER),
     ("perf-analyzer", AgentType.ANALYST), ("performance-benchmarker", AgentType.OPTIMIZER),
     ("api-docs", AgentType.DOCUMENTER), ("backend-dev", AgentType.SPECIALIST),
     ("ml-developer", AgentType.CODER), ("mystery", AgentType.SPECIALIST), (7, AgentType.SPECIALIST)],
)  # fmt: skip
def test_type_names_by_their_first_matching_hint(name: object, kind: AgentType) -> None:
    assert parse_type(name) is kind


def test_only_names_we_approximate_are_kept_as_the_orchestrators() -> None:
    assert foreign_type_name("hierarchical-coordinator") == "hierarchical-coordinator"
    assert foreign_type_name(" Coder ") is None
    assert foreign_type_name(None) is None and foreign_type_name(5) is None


def test_busy_statuses_as_enums_or_words() -> None:
    assert [s for s in AgentStatus if is_busy(s)] == [AgentStatus.ACTIVE, AgentStatus.BUSY]
    assert is_busy("busy") and not is_busy("working") and not is_busy(None)
