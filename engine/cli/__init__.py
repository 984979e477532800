"""Command-line interface (argparse + rich)."""
