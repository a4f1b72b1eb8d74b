"""The lock the Lambda bundle is built from (infra.lock.lock_problems): the repository's own lock is consistent,
and each way a lock can drift from pyproject.toml is named."""

from __future__ import annotations

import pytest

from infra.lock import LOCK, STAMP, dependencies_digest, lock_problems

pytestmark = pytest.mark.infra

DEPENDENCIES = ["pydantic>=2.9,<3", "boto3>=1.43.114", "aws-lambda-powertools>=3.20,<4"]
PINS = {
    "aws-lambda-powertools": "3.37.0",
    "boto3": "1.44.18",
    "pydantic": "2.14.4",
    "pydantic-core": "2.50.5",
}


def pyproject(dependencies: list[str]) -> str:
    listed = "".join(f'    "{dependency}",\n' for dependency in dependencies)
    return f'[project]\nname = "x"\nversion = "1"\ndependencies = [\n{listed}]\n'


def lock_text(pins: dict[str, str], made_from: list[str] | None = DEPENDENCIES, unhashed: tuple[str, ...] = ()) -> str:
    lines = ["# a lock made by a test"]
    if made_from is not None:
        lines.append(f"{STAMP}{dependencies_digest(made_from)}")
    for name, version in pins.items():
        requirement = version if version[0] in "<>=!~" else f"=={version}"
        if name in unhashed:
            lines.append(f"{name}{requirement}")
            continue
        lines.append(f"{name}{requirement} \\")
        lines.append(f"    --hash=sha256:{'a' * 64} \\")
        lines.append(f"    --hash=sha256:{'b' * 64}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text(pyproject(DEPENDENCIES))
    (tmp_path / LOCK).parent.mkdir()
    (tmp_path / LOCK).write_text(lock_text(PINS))
    return tmp_path


def test_the_repositorys_lock_matches_its_pyproject():
    assert lock_problems() == []


def test_a_consistent_lock_has_no_problems_whatever_the_order_of_pyprojects_list(project):
    assert lock_problems(project) == []
    (project / "pyproject.toml").write_text(pyproject(list(reversed(DEPENDENCIES))))
    assert lock_problems(project) == []


def test_a_missing_lock_is_named(project):
    (project / LOCK).unlink()
    assert lock_problems(project) == ["requirements/lambda.lock is missing: run `make lock`"]


def test_a_dependency_added_to_pyproject_after_the_lock_was_made(project):
    (project / "pyproject.toml").write_text(pyproject([*DEPENDENCIES, "httpx2>=2.10,<3"]))
    problems = lock_problems(project)
    assert len(problems) == 2
    assert "was made from another [project] dependencies list" in problems[0]
    assert problems[1] == "httpx2 (pyproject.toml) is not pinned in requirements/lambda.lock"


def test_a_changed_range_in_pyproject_is_a_stale_lock_even_when_the_pin_still_fits(project):
    changed = ["pydantic>=2.10,<3", *DEPENDENCIES[1:]]
    (project / "pyproject.toml").write_text(pyproject(changed))
    (problem,) = lock_problems(project)
    assert "made from another [project] dependencies list in pyproject.toml: run `make lock`" in problem


def test_a_pin_outside_pyprojects_range_is_named(project):
    (project / LOCK).write_text(lock_text({**PINS, "boto3": "1.35.0"}))
    assert lock_problems(project) == [
        "requirements/lambda.lock pins boto3==1.35.0, outside pyproject's 'boto3>=1.43.114'"
    ]


def test_a_pin_without_a_hash_is_named(project):
    (project / LOCK).write_text(lock_text(PINS, unhashed=("pydantic-core",)))
    assert lock_problems(project) == ["pydantic-core==2.50.5 in requirements/lambda.lock has no --hash"]


def test_a_range_instead_of_a_pin_is_named(project):
    (project / LOCK).write_text(lock_text({**PINS, "pydantic": ">=2.9"}))
    assert lock_problems(project) == ["'pydantic>=2.9' in requirements/lambda.lock is not pinned to one version (==)"]


def test_a_lock_that_does_not_say_what_it_was_made_from(project):
    (project / LOCK).write_text(lock_text(PINS, made_from=None))
    assert lock_problems(project) == [
        "requirements/lambda.lock does not say which dependency list it was made from: run `make lock`"
    ]


def test_a_line_that_is_no_requirement_is_named(project):
    (project / LOCK).write_text(lock_text(PINS) + "not a requirement !!\n")
    assert lock_problems(project) == ["the lock line 'not a requirement !!' is no requirement"]
