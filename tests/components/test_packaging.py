"""What goes into a function's zip: the declared packages, trimmed to what the handler imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from acme_eventsourcing._lambda import package_code
from stacks_under_test import recorded_stack


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    return _write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/handler.py": (
                "from app import rules\n\ndef handler(event, context):\n    from app.lazy import later\n    return later(rules.X)\n"
            ),
            "app/rules.py": "from shared.util import helper\nX = helper()\n",
            "app/lazy.py": "def later(x):\n    return x\n",
            "app/other_handler.py": "import app.unused\n",
            "app/unused.py": "Y = 2\n",
            "app/schema.json": "{}",
            "app/tests/test_rules.py": "def test(): pass\n",
            "shared/__init__.py": "",
            "shared/util.py": "def helper():\n    return 1\n",
            "shared/big.py": "Z = 3\n",
        },
    )


def test_zip_holds_only_the_modules_the_handler_imports(code_root: Path) -> None:
    archive = package_code(code_root, ["app", "shared"], "app.handler")

    assert sorted(archive.assets) == [
        "app/__init__.py",
        "app/handler.py",
        "app/lazy.py",  # imported inside a function: still found
        "app/rules.py",
        "app/schema.json",  # data files of a declared package always ship
        "shared/__init__.py",
        "shared/util.py",
    ]


def test_without_trimming_the_whole_packages_ship_but_never_tests(code_root: Path) -> None:
    archive = package_code(code_root, ["app", "shared"])

    assert "app/unused.py" in archive.assets and "shared/big.py" in archive.assets
    assert not any("tests/" in name for name in archive.assets)


def test_unknown_handler_module_is_a_clear_error(code_root: Path) -> None:
    with pytest.raises(ValueError, match="handler module 'app.missing' not found"):
        package_code(code_root, ["app"], "app.missing")


def test_lambda_code_that_imports_pulumi_is_refused(code_root: Path) -> None:
    _write(code_root, {"app/rules.py": "import pulumi\nX = 1\n"})
    with pytest.raises(ValueError, match="imports pulumi"):
        package_code(code_root, ["app", "shared"], "app.handler")


def test_leave_functions_ship_no_module_of_another_function() -> None:
    functions = {
        f.inputs["handler"]: set(f.inputs["code"]["assets"]) for f in recorded_stack("dev").of_type("aws:lambda/function:Function")
    }

    queries = functions["leave_api.queries.handler"]
    commands = functions["leave_api.commands.handler"]
    assert "leave_api/queries.py" in queries and "leave_api/commands.py" not in queries
    assert not any(name.startswith("acme_eventsourcing/runtime/eventstore/") for name in queries)  # queries read read models only
    assert "leave_api/commands.py" in commands and "leave_api/queries.py" not in commands
    assert "acme_eventsourcing/runtime/eventstore/dynamodb.py" in commands
    assert "acme_eventsourcing/runtime/eventstore/memory.py" not in commands  # no test double in Lambda
    documents = {"leave_api/asyncapi.py", "acme_eventsourcing/runtime/asyncapi.py", "acme_eventsourcing/runtime/live_messages.py"}
    assert documents <= commands  # GET /asyncapi.json, imported lazily, still ships
    slack = {"acme_eventsourcing/runtime/slack.py", "acme_eventsourcing/runtime/secrets.py"}
    assert slack <= commands  # POST /slack/interactions imports them when it serves a press
    assert "acme_eventsourcing/runtime/asyncapi.py" not in queries
    assert "leave_projections/audit.py" not in functions["leave_projections.balance.handler"]


def test_code_that_imports_the_runtime_library_ships_the_library_modules_it_uses(code_root: Path) -> None:
    _write(code_root, {"app/rules.py": "from acme_eventsourcing.runtime import handler\nX = 1\n"})

    archive = package_code(code_root, ["app", "shared"], "app.handler")

    library = sorted(name for name in archive.assets if name.startswith("acme_eventsourcing/"))
    assert library == [
        "acme_eventsourcing/__init__.py",
        "acme_eventsourcing/runtime/__init__.py",
        "acme_eventsourcing/runtime/handler.py",
    ], "only the runtime modules the code imports: never the Pulumi modules the package's __init__ names for type checkers"


def test_library_modules_ship_with_the_library_modules_they_import(code_root: Path) -> None:
    _write(code_root, {"app/rules.py": "from acme_eventsourcing.runtime import publisher\nX = 1\n"})

    archive = package_code(code_root, ["app", "shared"], "app.handler")

    library = {name for name in archive.assets if name.startswith("acme_eventsourcing/")}
    # the publisher reads items with the item contract, which speaks the event store's records
    assert {"acme_eventsourcing/runtime/publisher.py", "acme_eventsourcing/runtime/items.py"} <= library
    assert "acme_eventsourcing/runtime/eventstore/ports.py" in library
    assert "acme_eventsourcing/runtime/eventstore/memory.py" not in library  # the test double never ships


def test_untrimmed_code_that_imports_the_library_ships_its_whole_runtime(code_root: Path) -> None:
    _write(code_root, {"app/unused.py": "import acme_eventsourcing.runtime.publisher\n"})

    archive = package_code(code_root, ["app"])

    assert "acme_eventsourcing/runtime/publisher.py" in archive.assets
    assert not any(
        name.startswith("acme_eventsourcing/") and "runtime" not in name and not name.endswith("/__init__.py") for name in archive.assets
    )


def test_library_code_is_only_for_the_runtime_modules() -> None:
    from acme_eventsourcing._lambda import library_code

    assert "acme_eventsourcing/runtime/publisher.py" in library_code("acme_eventsourcing.runtime.publisher").assets
    with pytest.raises(ValueError, match="is not a module of acme_eventsourcing.runtime"):
        library_code("acme_eventsourcing.event_sourced_service")


def test_the_import_scan_is_remembered_until_a_source_changes(code_root: Path) -> None:
    first = set(package_code(code_root, ["app", "shared"], "app.handler").assets)
    assert "app/unused.py" not in first
    assert set(package_code(code_root, ["app", "shared"], "app.handler").assets) == first  # the remembered scan
    _write(code_root, {"app/lazy.py": "import app.unused\n\n\ndef later(x):\n    return x\n"})
    assert "app/unused.py" in package_code(code_root, ["app", "shared"], "app.handler").assets


def test_a_name_from_a_lazy_package_ships_the_module_it_lives_in_and_no_other(code_root: Path) -> None:
    _write(code_root, {"app/rules.py": "from acme_eventsourcing.runtime.projections import freshness\nX = 1\n"})

    library = {name for name in package_code(code_root, ["app", "shared"], "app.handler").assets if name.startswith("acme_eventsourcing/")}

    assert "acme_eventsourcing/runtime/projections/reader.py" in library  # where `freshness` is defined (the package's _HOMES)
    assert "acme_eventsourcing/runtime/projections/core.py" not in library  # the projector: named in the package only for type checkers
    assert not any(name.startswith("acme_eventsourcing/runtime/eventstore/") for name in library)


def test_a_plain_import_of_a_lazy_package_ships_everything_it_may_hand_out(code_root: Path) -> None:
    _write(code_root, {"app/rules.py": "import acme_eventsourcing.runtime.eventstore as es\nX = es\n"})

    assets = package_code(code_root, ["app", "shared"], "app.handler").assets

    assert {"acme_eventsourcing/runtime/eventstore/dynamodb.py", "acme_eventsourcing/runtime/eventstore/memory.py"} <= set(assets)


def test_imports_under_type_checking_are_not_shipped(code_root: Path) -> None:
    _write(code_root, {"app/rules.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from shared import big\nX = 1\n"})

    assert "shared/big.py" not in package_code(code_root, ["app", "shared"], "app.handler").assets


def test_imports_nested_in_any_statement_are_found_and_none_in_expressions_is_made_up(code_root: Path) -> None:
    # the scan walks statement bodies only (imports are statements): every kind of body counts
    _write(
        code_root,
        {
            "app/rules.py": (
                "X = 1\n"
                "class Config:\n    import shared.big\n"
                "try:\n    pass\nexcept ImportError:\n    from shared import util\nelse:\n    pass\nfinally:\n    pass\n"
                "match X:\n    case 1:\n        import app.unused\n"
                "with open(__file__) as fh:\n    for _ in ():\n        while False:\n            from . import lazy\n"
                "name = 'shared.never'\nmodule = __import__(name)\n"
            ),
        },
    )

    assets = set(package_code(code_root, ["app", "shared"], "app.handler").assets)

    assert {"shared/big.py", "shared/util.py", "app/unused.py", "app/lazy.py"} <= assets
