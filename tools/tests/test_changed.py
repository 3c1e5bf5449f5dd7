from symlab_tools.changed import select

PROJECTS = ["atlasd", "dhn", "equact"]


def test_shared_change_selects_all():
    assert select(["shared/src/symlab/groups/_so3.py"], PROJECTS) == PROJECTS
    assert select(["requirements/constraints.txt"], PROJECTS) == PROJECTS
    assert select(["Makefile"], PROJECTS) == PROJECTS


def test_project_change_selects_it():
    assert select(["projects/dhn/src/dhn/model.py", "README.md"], PROJECTS) == ["dhn"]
    assert select(["README.md", "projects/README.md"], PROJECTS) == []
