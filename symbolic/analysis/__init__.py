"""Studies over a closed form: the target of a study, closed forms along square sizes, asymptotics, budget
planning, the distilled peak, the switch search, and the video-latent estimator. No module defaults to a pipeline.
"""
