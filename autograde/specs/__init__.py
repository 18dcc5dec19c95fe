"""The auto-graded exercises of every chapter, keyed by chapter id (= folder under ``book/``)."""

from autograde.specs import ch01_mdp, ch02_objectives, ch03_policy_gradients, ch04_assistant, ch05_rlvr

CHAPTERS = {c.id: c for c in (ch01_mdp.CHAPTER, ch02_objectives.CHAPTER, ch03_policy_gradients.CHAPTER,
                                  ch04_assistant.CHAPTER, ch05_rlvr.CHAPTER)}
