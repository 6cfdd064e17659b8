"""What every TechEmpower database app shares: the rules, not framework code.

The ``queries`` parameter, the random ids and the added fortune. The fortunes page
is ``templates/fortunes.html`` (Jinja2: Kettle, Flask and the raw apps); Django's,
the same markup in its own template language, is
``tfb_django/templates/fortunes.html``.
"""

import random

ADDITIONAL = "Additional fortune added at request time."


def count(queries: str | None) -> int:
    """TechEmpower's ``queries`` parameter: an int clamped to 1..500, else 1."""
    try:
        n = int(queries or "")
    except ValueError:
        return 1
    return min(max(n, 1), 500)


def random_ids(n: int) -> list[int]:
    """``n`` distinct random world ids, in order: updates then lock their rows in
    the same order in every request (no deadlocks), and an ORM's identity map never
    answers a repeated id without a query."""
    return sorted(random.sample(range(1, 10001), n))
