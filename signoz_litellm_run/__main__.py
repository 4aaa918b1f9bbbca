"""`python -m signoz_litellm_run` does what the `signoz-litellm` console script does."""

from signoz_litellm_run.entry import main

if __name__ == "__main__":
    main()
