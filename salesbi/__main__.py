"""``python -m salesbi``: the same command line as the ``salesbi`` script (the app starts the
after-save ETL run this way, with its own interpreter)."""

from salesbi.cli import app

if __name__ == "__main__":
    app(prog_name="salesbi")
