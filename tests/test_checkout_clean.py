"""The test suite writes only under its temporary folders: the checkout stays as it was."""

from __future__ import annotations


def test_the_suite_leaves_the_checkout_as_it_found_it(checkout_written: list[str]) -> None:
    """Runs last (see conftest); compares `git status` with the session's start, so a
    developer's own uncommitted edits do not fail it."""
    assert checkout_written == [], "tests wrote into the checkout"
