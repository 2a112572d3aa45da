"""``python -m hpo.cli`` runs the ``hpo`` command."""

from hpo.cli import main

main()
