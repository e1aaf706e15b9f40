"""The cost of an edit (word-level Levenshtein) and the deterministic user's transforms, on hand-made cases."""

import pytest

from pluralign.errors import InputError
from pluralign.feedback.edits.cost import edit_cost, tokens
from pluralign.feedback.edits.users import TRANSFORMS, ProgrammaticUser, Turn, assign, sentences


@pytest.mark.parametrize("a, b, cost", [
    ("", "", 0),
    ("the cat sat", "the cat sat", 0),
    ("the cat sat", "the dog sat", 1),            # one substitution
    ("the cat sat", "the cat sat down", 1),       # one insertion
    ("the cat sat down", "cat sat", 2),           # two deletions
    ("a b c", "c b a", 2),                        # two substitutions, not a swap
    ("Hello, world.", "hello world", 3),          # case counts; "," and "." are tokens
    ("one\n\ntwo", "one two", 0),                 # spacing and line breaks cost nothing
    ("I don't know", "I do not know", 2),         # "don't" is one token
    ("done", "done 🙂", 1),                        # an emoji is one token
    ("", "four new words here", 4),
])
def test_cost_hand_cases(a, b, cost):
    assert edit_cost(a, b) == cost
    assert edit_cost(b, a) == cost


def test_tokens_split_punctuation():
    assert tokens("Hi, you! - it's 3.5") == ["Hi", ",", "you", "!", "-", "it's", "3", ".", "5"]


TEXT = "The council met on Monday. We think his plan works! Is it cheap? They said yes"


@pytest.mark.parametrize("name, expected", [
    ("bullets", "- The council met on Monday.\n- We think his plan works!\n- Is it cheap?\n- They said yes"),
    ("brief", "The council met on Monday."),
    ("second-person", "The council met on Monday. You think your plan works! Is it cheap? You said yes"),
    ("question", "What is this about? " + TEXT),
    ("emojis", "The council met on Monday. 🙂 We think his plan works! 🙂 Is it cheap? 🙂 They said yes 🙂"),
    ("lower-case", TEXT.lower()),
    ("exclaim", "The council met on Monday! We think his plan works! Is it cheap! They said yes!"),
])
def test_each_transform(name, expected):
    t = TRANSFORMS[name]
    assert t.apply(TEXT) == expected
    assert t.apply(expected).split() == expected.split()  # a met preference is left alone
    user = ProgrammaticUser({"s": name})
    assert user.edit([Turn("ctx", "s", expected)]) == [expected]       # accepted, zero cost
    assert edit_cost(TEXT, user.edit([Turn("ctx", "s", TEXT)])[0]) > 0  # the plain text gets edited
    assert user.latent("s") == t.description


def test_transform_details():
    assert TRANSFORMS["brief"].apply(" ".join(["word"] * 30)) == " ".join(["word"] * 20)
    assert TRANSFORMS["second-person"].apply("You know it.") == "You know it."
    assert TRANSFORMS["second-person"].apply("It rained.") == "For you: It rained."
    assert TRANSFORMS["question"].apply("Why? Because.") == "Why? Because."
    assert sentences("- one.\n* two\n3. three") == ["one.", "two", "three"]
    for t in TRANSFORMS.values():  # empty and odd inputs do not break a transform
        t.apply("")
        t.apply("🙂🙂 \n\n -")


def test_assign_and_bad_specs():
    assert assign(["b", "a", "b"]) == {"a": "bullets", "b": "brief"}
    assert assign(["x"], "x=emojis") == {"x": "emojis"}
    with pytest.raises(InputError, match="preferences"):
        assign(["x"], "x=shouting")
    with pytest.raises(InputError, match="no preference given"):
        assign(["x", "y"], "x=emojis")
    with pytest.raises(InputError, match="unknown transforms"):
        ProgrammaticUser({"x": "nope"})
    with pytest.raises(InputError, match="no latent preference"):
        ProgrammaticUser({"x": "brief"}).latent("y")
