"""``python -m fastconv {demo,bench,config} [options]``."""
import sys

USAGE = """usage: python -m fastconv <command> [options]

commands:
  demo     train a small CNN on scikit-learn's 8x8 digits and compare with the NumPy reference
  bench    benchmark the kernels against PyTorch
  config   show the version, instruction set, OpenMP runtime and threads

Run `python -m fastconv <command> --help` for a command's options."""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":
        from .demo import main as demo_main
        return demo_main(rest)
    if cmd == "bench":
        from ._bench import main as bench_main  # imported lazily: only this command needs it
        return bench_main(rest)
    if cmd == "config":
        from . import show_config
        show_config()
        return 0
    print(f"unknown command {cmd!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
