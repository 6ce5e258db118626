from promptloop.safety import terminal_text


def test_control_characters_are_shown_not_obeyed():
    assert terminal_text("a\x1b[31mred\x07\x9b2J") == "a?[31mred??2J"
    assert terminal_text("line one\n\tline two") == "line one\n\tline two"
