"""``python -m frontend`` serves the dashboard."""

from frontend.app import main

if __name__ == "__main__":
    main()
