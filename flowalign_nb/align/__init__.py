"""FlowAligner and the linear / relative baselines: scikit-learn estimators from one representation space to another."""
