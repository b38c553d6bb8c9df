"""Pure DataFrame -> DataFrame logic shared by the batch and the streaming jobs."""
