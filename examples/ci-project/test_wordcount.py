import unittest

from wordcount import count


class CountTest(unittest.TestCase):
    def test_case_and_punctuation(self):
        self.assertEqual(count("The cat. the CAT! a dog")["cat"], 2)

    def test_empty(self):
        self.assertEqual(count(" ... "), {})


if __name__ == "__main__":
    unittest.main()
