"""Right by right: each right (with only its RFC prerequisites) permits its operation, and every
other right together does not (RFC 4314 sections 2.1 and 4)."""

import pytest

from .operations import CHECKS, RightCheck
from .scene import Scene


def _params():
    return [pytest.param(c, id=c.right, marks=[pytest.mark.requires(*c.requires)] if c.requires else [])
            for c in CHECKS]


def _others(scene: Scene, check: RightCheck) -> frozenset[str]:
    """Every right the server has except this one (and, for c/d, the rights they stand for)."""
    return scene.profile.all_rights() - scene.profile.parse(check.right)


@pytest.mark.parametrize("check", _params())
def test_right_is_sufficient(server, users, check):
    scene = Scene.build(server, users)
    if check.identifier:
        scene.grant(check.right, identifier=check.identifier)
    else:
        scene.grant(scene.profile.parse(check.right + check.prerequisites) if check.right in "cd"
                    else frozenset(check.right + check.prerequisites))
    assert check.operation(scene), f"'{check.right}' (+ '{check.prerequisites}') did not permit {check.operation.__doc__}"


@pytest.mark.parametrize("check", _params())
def test_right_is_needed(server, users, check):
    scene = Scene.build(server, users)
    others = _others(scene, check)
    scene.grant(others, identifier=check.identifier)
    assert not check.operation(scene), (
        f"every right but '{check.right}' ({''.join(sorted(others))}) permitted {check.operation.__doc__}")
