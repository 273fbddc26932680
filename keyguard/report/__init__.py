"""Report writers: text (rich), JSON, SARIF 2.1.0 and Markdown."""
