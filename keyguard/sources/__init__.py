"""Sources of text to scan: staged changes, the working tree, git history, stdin."""
