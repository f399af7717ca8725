"""The post-incident report, its loss figures, and the metrics across incidents."""
