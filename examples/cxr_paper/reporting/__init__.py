"""What a person reads: report.md's tables, report.html (templates with autoescape, the viewer's
script in its own file) and the figures."""
