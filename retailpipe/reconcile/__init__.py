"""`reconcile`: the batch path's figures against the stream's, per store and UTC hour."""
