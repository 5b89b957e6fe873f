"""The architecture rules of DESIGN §1, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANNED = {
    "activitypub": {"exchange", "fediverse_share"},
    "exchange": {"activitypub", "fediverse_share"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_libraries_do_not_import_upwards_or_sideways() -> None:
    """activitypub/ and exchange/ never import each other nor fediverse_share/."""
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for package, banned in BANNED.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in _imports(path)
        if name.split(".")[0] in banned
    ]
    assert broken == []


def test_the_check_sees_imports() -> None:
    """The import walk finds both import forms (so the rule above can fail)."""
    sample = ROOT / "fediverse_share" / "app.py"
    names = {name for _, name in _imports(sample)}
    assert "asyncio" in names and "fediverse_share.runtime" in names


def test_nothing_happens_at_import_time() -> None:
    """Importing the packages builds no app, engine or client (module level is inert)."""
    import subprocess
    import sys

    code = (
        "import sys, fediverse_share.app, fediverse_share.cli, activitypub, exchange\n"
        "import gc, sqlalchemy.engine, httpx\n"
        "engines = [o for o in gc.get_objects() if isinstance(o, sqlalchemy.engine.Engine)]\n"
        "clients = [o for o in gc.get_objects() if isinstance(o, httpx.AsyncClient)]\n"
        "assert not engines and not clients, (engines, clients)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_server_does_not_load_alembic() -> None:
    """Alembic is for init and upgrades: loaded by a serving process it costs ~9 MB."""
    import subprocess
    import sys

    code = (
        "import sys, fediverse_share.app, fediverse_share.worker\n"
        "import fediverse_share.listings.search, fediverse_share.listings.matching\n"
        "assert 'alembic' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
