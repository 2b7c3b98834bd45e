"""llmcourse: the shared code of the course, one module per concept.

Each module's docstring names the chapter that explains it. Chapters build an idea step by
step, check it equals the version here, and use the package from then on.

Where each chapter's code lives (modules it builds; then ``uses:`` modules it only calls).
Every chapter draws its figures with ``viz.<topic>`` and its exercises' self-checks come from
``checks.<topic>``:

=================================  ==============================================================
chapter                            modules
=================================  ==============================================================
Welcome                            ``assets`` (every external file, by name)
0 What an LLM is                   uses: ``data``, ``tokenizer``; ``viz.tokens``
1 Tokenizing                       ``tokenizer``, ``bpe``, ``special_tokens``; uses: ``data``;
                                   ``viz.tokens``
2 Data sampling                    ``data``; uses: ``tokenizer``; ``viz.data``
3 Token embeddings                 ``embeddings``; uses: ``data``, ``tokenizer``; ``viz.embeddings``
4 Attention                        ``attention``; uses: ``config``, ``model``; ``viz.attention``
5 The GPT model                    ``config``, ``model``, ``generate`` (greedy); ``viz.gpt``
6 Pretraining                      ``loss``, ``optim``, ``train``, ``checkpoint``, ``generate``
                                   (sampling, KV cache), ``weights`` (files, GPT-2,
                                   ``load_pretrained``), ``gpt2_layout``; uses: ``data``,
                                   ``model``, ``pretrain`` and ``commands`` (the command that
                                   made the course model); ``viz.pretrain``
7.0 LoRA                           ``lora``; uses: ``classify``, ``spam``, ``weights``;
                                   ``viz.lora``
7.1 Fine-tuning for classification ``spam``, ``classify``, ``baseline``; uses: ``weights``,
                                   ``optim``; ``viz.classify``
7.2 Following instructions         ``instruct_data``, ``instruct``; uses: ``train``, ``weights``,
                                   ``instruct_model`` (the command that made the committed
                                   model); ``viz.instruct``
Appendix: Scaling out              ``runtime`` (process groups for ``torchrun``); uses: ``train``
every chapter                      ``runtime`` (device, seeds, train/eval mode), ``validate``
                                   (argument checks), ``viz.render`` and ``viz.theme`` (the
                                   book's figure renderer and theme)
=================================  ==============================================================
"""

__version__ = "0.1.0"
