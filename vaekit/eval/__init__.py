"""Measuring a trained model, one idea per module:

likelihood.py      the ELBO and the importance-sampled -log p(x), bits/dim (`evaluate`); its loop
                   (`block_terms`) serves images and sentences alike
text.py            a sentence model's NLL per sentence and perplexity per token (`evaluate_sentences`)
translation.py     a translation model's BLEU and chrF (sacrebleu), exact NLL, BLEU by source length
naive_mc.py        prior-sampling evidence: log p(x) from codes drawn from p(z), to show why q(z|x) is needed
posterior_gap.py   how far the ELBO is from log p(x): KL(q(z|x) || p(z|x)) by importance sampling
latent.py          latent activity: active units, KL per latent, 2-D projections of the codes
code_use.py        whether a model uses its code z (KL, active units), said in one line with what to try
sample_quality.py  the Fréchet distance and classifier score of prior samples
classifier.py      the small CNN classifiers those scores use (trained once, cached)
disentangle.py     MIG (mutual information gap) on dSprites-like data
partial.py         the running sums of a long evaluation on disk, so a stopped one continues
paired.py          two models on the same data: the NLL difference and its paired standard error
"""
