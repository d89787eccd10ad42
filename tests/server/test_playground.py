"""The playground page at GET / in headless Chromium (Debian chromium + chromium-driver, driven by Selenium):
load it, run the texts and a query, check the rendered heatmap, sparse tokens and reranked list against the API's
own answers. With BGE_SCREENSHOT=PATH it saves a screenshot there (docs/playground.png is one)."""
import os
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from harness import Server

TEXTS = ["The giant panda is a bear native to China.", "Pandas eat bamboo.", "Paris is the capital of France."]


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,1250"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class PlaygroundTest(unittest.TestCase):
    def test_the_page_renders_similarities_sparse_tokens_and_the_ranking(self):
        with Server("--api-key", "k3y") as server:
            driver = browser()
            try:
                driver.get(server.url + "/")
                key = driver.find_element(By.ID, "key")
                key.send_keys("k3y")
                driver.find_element(By.ID, "run").click()
                WebDriverWait(driver, 30).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-done")
                                                or d.find_element(By.ID, "status").text)
                self.assertEqual(driver.find_element(By.ID, "status").text, "")
                cells = [float(c.text) for c in driver.find_elements(By.CSS_SELECTOR, "#heatmap td.sim")]
                self.assertEqual(len(cells), 9)
                headers = {"Authorization": "Bearer k3y"}
                dense = [d["dense"] for d in server.post("/m3/embed", {"inputs": TEXTS}, headers=headers).json()["data"]]
                for i in range(3):
                    for j in range(3):
                        want = sum(a * b for a, b in zip(dense[i], dense[j]))
                        self.assertAlmostEqual(cells[3 * i + j], want, places=3)
                self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, "#sparse > div")), 3)
                tokens = driver.find_elements(By.CSS_SELECTOR, "#sparse .token")
                self.assertGreater(len(tokens), 0)
                # Each sparse token shows its text (as /decode gives it for its id, "▁" for a lone "▁"), not its id.
                for t in tokens:
                    word = t.text.rsplit(" ", 1)[0]
                    decoded = server.post("/decode", {"ids": [int(t.get_attribute("data-id"))]},
                                          headers=headers).json()[0]
                    self.assertEqual(word, decoded or "\u2581")
                    self.assertFalse(word.startswith("#"))
                words = {t.text.rsplit(" ", 1)[0] for t in tokens}
                self.assertTrue(any(w.isalpha() for w in words), words)
                ranked = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#ranked li .text")]
                api = server.post("/rerank", {"query": "What do pandas eat?", "texts": TEXTS, "return_text": True},
                                  headers=headers).json()
                self.assertEqual(ranked, [r["text"] for r in api])
                if os.environ.get("BGE_SCREENSHOT"):
                    driver.save_screenshot(os.environ["BGE_SCREENSHOT"])
            finally:
                driver.quit()
            self.assertEqual(server.stop(), 0)

    def test_a_wrong_key_shows_the_error(self):
        with Server("--api-key", "k3y") as server:
            driver = browser()
            try:
                driver.get(server.url + "/")
                driver.find_element(By.ID, "key").send_keys("nope")
                driver.find_element(By.ID, "run").click()
                WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "status").text)
                self.assertIn("API key", driver.find_element(By.ID, "status").text)
            finally:
                driver.quit()
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
