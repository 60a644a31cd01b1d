"""What a person reads. Every report is a :class:`~cxr_paper.reporting.document.Document` (the one
report model) rendered to Markdown and to the HTML pages' tables; report.html (templates with
autoescape, the viewer's script in its own file), the figures, and what a run writes as each
model finishes (``run_outputs``)."""
