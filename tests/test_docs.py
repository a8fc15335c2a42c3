"""The protocol reference (docs/PROTOCOL.md) is what clients rely on: keep it true to the code."""

import pathlib
import re

import pytest

from cliquet.errors import ERRORS
from cliquet.settings import DEFAULT_SETTINGS

PROTOCOL = (pathlib.Path(__file__).parent.parent / "docs" / "PROTOCOL.md").read_text()
ERRNO_ROWS = {
    int(m.group(1)): m.group(2)
    for m in re.finditer(r"^\| (\d{3}) \| (\w+) \|", PROTOCOL, re.MULTILINE)
}
# Settings named per component or per resource, not in DEFAULT_SETTINGS.
_PATTERNS = (
    re.compile(r"^cliquet\.<resource>_[\w<>]+$"),
    re.compile(r"^cliquet\.<component>_\w+$"),
    re.compile(r"^cliquet\.(storage|cache|permission)_statement_timeout_ms$"),
)


@pytest.mark.parametrize("error", list(ERRORS), ids=lambda e: e.name)
def test_every_errno_is_in_the_protocol_table(error):
    assert ERRNO_ROWS.get(int(error)) == error.name


def test_the_protocol_table_names_no_unknown_errno():
    assert set(ERRNO_ROWS) <= {int(e) for e in ERRORS}


def test_every_setting_the_protocol_names_exists():
    named = set(re.findall(r"`(cliquet\.[\w<>.]+)", PROTOCOL))
    assert named, "the protocol reference names no setting"
    for name in named:
        assert name in DEFAULT_SETTINGS or any(p.match(name) for p in _PATTERNS), name
