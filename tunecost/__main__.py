"""``python -m tunecost`` runs the command line."""

from tunecost.cli import main

if __name__ == "__main__":
    main()
