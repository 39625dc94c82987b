"""The recommender as serving sees it: exported LightFM arrays, the feature vocabulary shared with
training, how behavior becomes labels, fold-in freshness, and training job records. Nothing here
imports LightFM."""
