"""Using a trained model, one kind of data per module:

images.py     sample, reconstruct, interpolate (linear or spherical), traverse one latent at a time
text.py       sentences: sample, reconstruct, Bowman et al.'s homotopy, codes of sentences
translate.py  sentence pairs: greedy and beam-search translation (`Translator`)
codes.py      the codes of inputs, images or sentences: posterior mean, sd and KL (`vaekit encode`)
"""
