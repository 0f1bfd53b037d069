"""axe-core in the browser tests: inject it into the page Playwright shows and list the serious and
critical violations it finds.

axe-core comes from the npm registry (tests/browser/axe/package.json and its lock); ``npm ci`` in
that folder installs it (`.ci/run` and `scripts/test` do when node_modules is missing). It is a
test tool only: the app itself has no Node build and loads nothing from a CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page: Any) -> list[str]:
    """The page's serious and critical violations, one line each: rule, impact, elements."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: run `npm ci` in {AXE.parents[2]}.",
                    pytrace=False)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (blocking) => {
             const result = await axe.run(document, {resultTypes: ['violations']});
             return result.violations.filter(v => blocking.includes(v.impact)).map(v =>
               `${v.id} (${v.impact}): ${v.help} at ` +
               v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
           }""", list(BLOCKING))
    return [str(line) for line in found]
