"""What a run is asked to do: every setting (`RunConfig`, presets), the command line that fills it,
the data set's task (classes, box classes, box frame) and the paper's published numbers."""
