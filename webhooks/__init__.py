"""The HTTP edge: webhook intake, survey pages, reports and admin endpoints (the only Flask code)."""

# Jira issues with long descriptions, many comments or rendered fields send bodies past 1 MiB;
# a refused body is not lost (the poller reads the change), but it arrives later.
DEFAULT_MAX_BODY = 10 * 1024 * 1024
