"""The operator console: server-rendered pages to find, read and refund payments."""
