"""Scoring the test split: AUROC, the localization metrics per map kind, the map kinds themselves,
Grad-CAM-family maps, patient-bootstrap intervals, the viewer's records, and the noise of
training (seed studies)."""
