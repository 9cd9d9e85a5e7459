"""``python -m tunecost.cli`` runs the command line (as ``python -m tunecost`` does)."""

from tunecost.cli import main

if __name__ == "__main__":
    main()
