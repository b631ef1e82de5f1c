// The Hugging Face Hub client against a real local HTTP server that serves files the way the Hub's
// resolve endpoint does (Range requests included). Nothing here touches the network.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/error.h"
#include "common/hash.h"
#include "suites/hub.h"
#include "suites/livecodebench.h"
#include "suites/suite.h"
#include "support/test_support.h"

namespace rbench {
namespace {

namespace fs = std::filesystem;
using rbench::testing::read_file;
using rbench::testing::TempDir;
using rbench::testing::write_file;

struct LoggedRequest {
  std::string path;
  std::string range;
  std::string authorization;
};

class FakeHub {
 public:
  FakeHub() {
    server_.Get(R"(/datasets/(.+)/resolve/([^/]+)/(.+))",
                [this](const httplib::Request& request, httplib::Response& response) { serve(request, response); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the listener runs is lost and the join would hang (a test that makes no request).
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void add(const std::string& url_path, std::string content) {
    std::lock_guard lock(mutex_);
    files_[url_path] = std::move(content);
  }
  void require_token(std::string token) { token_ = std::move(token); }
  // The next transfer of a file stops after `bytes` bytes, as a dropped connection would.
  void drop_next_transfer_after(size_t bytes) { drop_after_ = bytes; }

  std::vector<LoggedRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve(const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    requests_.push_back({request.path, request.get_header_value("Range"), request.get_header_value("Authorization")});
    if (!token_.empty() && request.get_header_value("Authorization") != "Bearer " + token_) {
      response.status = 401;
      response.set_content(R"({"error":"Access to dataset is restricted"})", "application/json");
      return;
    }
    const auto found = files_.find(request.path);
    if (found == files_.end()) {
      response.status = 404;
      response.set_content(R"({"error":"Entry not found"})", "application/json");
      return;
    }
    // httplib answers a Range request with 206 and calls the provider with the range's offsets.
    const std::string content = found->second;
    const size_t drop_after = std::exchange(drop_after_, 0);
    response.set_content_provider(content.size(), "application/octet-stream",
                                  [content, drop_after](size_t offset, size_t length, httplib::DataSink& sink) {
                                    if (drop_after > 0 && offset >= drop_after) return false;  // connection dropped
                                    size_t chunk = std::min<size_t>(length, 4096);
                                    if (drop_after > 0) chunk = std::min(chunk, drop_after - offset);
                                    sink.write(content.data() + offset, chunk);
                                    return true;
                                  });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, std::string> files_;
  std::vector<LoggedRequest> requests_;
  std::string token_;
  size_t drop_after_ = 0;
};

std::string sample_content(size_t size) {
  std::string content(size, '\0');
  for (size_t i = 0; i < size; ++i) content[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return content;
}

class HubClientTest : public ::testing::Test {
 protected:
  HubSettings settings(std::string token = "") const {
    HubSettings settings;
    settings.endpoint = hub.endpoint();
    settings.cache_dir = cache.path() / "hub";
    settings.token = std::move(token);
    return settings;
  }

  FakeHub hub;
  TempDir cache;
};

TEST_F(HubClientTest, DownloadsIntoTheCacheAndServesTheCacheAfterwards) {
  const std::string content = sample_content(200'000);
  hub.add("/datasets/org/data/resolve/main/sub/test.jsonl", content);
  const HubClient client(settings());
  const HubFile file("org/data", "sub/test.jsonl");

  const fs::path path = client.fetch(file);
  EXPECT_EQ(path, cache.path() / "hub" / "org" / "data" / "main" / "sub" / "test.jsonl");
  EXPECT_EQ(read_file(path), content);
  EXPECT_FALSE(fs::exists(path.string() + ".partial"));
  ASSERT_EQ(hub.requests().size(), 1u);
  EXPECT_EQ(hub.requests()[0].range, "");
  EXPECT_EQ(hub.requests()[0].authorization, "");  // no token configured, none sent

  EXPECT_EQ(client.fetch(file), path);
  EXPECT_EQ(hub.requests().size(), 1u) << "a cache hit must make no request";
}

TEST_F(HubClientTest, ResumesADroppedTransferWithARangeRequest) {
  const std::string content = sample_content(100'000);
  hub.add("/datasets/org/data/resolve/main/big.jsonl", content);
  hub.drop_next_transfer_after(40'000);
  const fs::path path = HubClient(settings()).fetch(HubFile("org/data", "big.jsonl"));

  EXPECT_EQ(read_file(path), content);
  const auto requests = hub.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].range, "");
  EXPECT_EQ(requests[1].range, "bytes=40000-");
}

TEST_F(HubClientTest, ResumesAPartialFileLeftByAnEarlierProcess) {
  const std::string content = sample_content(50'000);
  hub.add("/datasets/org/data/resolve/v1.0/part.jsonl", content);
  const HubClient client(settings());
  const HubFile file("org/data", "part.jsonl", "v1.0");
  fs::create_directories(client.cache_path(file).parent_path());
  write_file(client.cache_path(file).string() + ".partial", content.substr(0, 12'345));

  EXPECT_EQ(read_file(client.fetch(file)), content);
  ASSERT_EQ(hub.requests().size(), 1u);
  EXPECT_EQ(hub.requests()[0].range, "bytes=12345-");
}

TEST_F(HubClientTest, NotFoundNamesTheRepositoryAndPath) {
  try {
    HubClient(settings()).fetch(HubFile("org/data", "missing/file.jsonl"));
    FAIL() << "expected an error";
  } catch (const UserError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("org/data"), std::string::npos) << message;
    EXPECT_NE(message.find("missing/file.jsonl"), std::string::npos) << message;
    EXPECT_NE(message.find("404"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(cache.path() / "hub" / "org" / "data" / "main" / "missing" / "file.jsonl.partial"));
}

TEST_F(HubClientTest, SendsTheTokenAsBearerAndExplainsADenial) {
  hub.add("/datasets/org/gated/resolve/main/x.csv", "a,b\n");
  hub.require_token("secret-token");
  const HubFile file("org/gated", "x.csv");
  try {
    HubClient(settings()).fetch(file);
    FAIL() << "expected an error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("HF_TOKEN"), std::string::npos) << error.what();
  }
  const fs::path path = HubClient(settings("secret-token")).fetch(file);
  EXPECT_EQ(read_file(path), "a,b\n");
  EXPECT_EQ(hub.requests().back().authorization, "Bearer secret-token");
}

TEST_F(HubClientTest, ChecksTheExpectedHash) {
  hub.add("/datasets/org/data/resolve/main/x.txt", "payload");
  HubFile file("org/data", "x.txt", "main", sha256_hex("something else"));
  EXPECT_THROW(HubClient(settings()).fetch(file), UserError);
  EXPECT_FALSE(fs::exists(HubClient(settings()).cache_path(file)));
  EXPECT_FALSE(fs::exists(HubClient(settings()).cache_path(file).string() + ".partial"));

  file.sha256 = sha256_hex("payload");
  EXPECT_EQ(read_file(HubClient(settings()).fetch(file)), "payload");
}

TEST_F(HubClientTest, OfflineServesOnlyTheCache) {
  hub.add("/datasets/org/data/resolve/main/x.txt", "payload");
  HubSettings offline = settings();
  offline.offline = true;
  const HubFile file("org/data", "x.txt");
  try {
    HubClient(offline).fetch(file);
    FAIL() << "expected an error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("RBENCH_OFFLINE"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(hub.requests().empty());

  HubClient(settings()).fetch(file);
  EXPECT_EQ(read_file(HubClient(offline).fetch(file)), "payload");
  EXPECT_EQ(hub.requests().size(), 1u);
}

TEST_F(HubClientTest, BuildsHubUrlsAndRefusesPathsThatLeaveTheCache) {
  const HubClient client(settings());
  EXPECT_EQ(client.url(HubFile("org/data", "a b/c.jsonl", "refs/convert/parquet")),
            hub.endpoint() + "/datasets/org/data/resolve/refs%2Fconvert%2Fparquet/a%20b/c.jsonl");
  EXPECT_THROW(client.cache_path(HubFile("org/data", "../../etc/passwd")), UserError);
  EXPECT_THROW(client.cache_path(HubFile("../x", "f")), UserError);
}

TEST(HubSettings, ComeFromTheEnvironment) {
  testing::ScopedEnvironment environment;
  environment.set("HF_ENDPOINT", "http://mirror.example/")
      .set("RBENCH_CACHE", "/tmp/rbench-cache")
      .set("HF_TOKEN", "t")
      .set("RBENCH_OFFLINE", "1");
  const HubSettings settings = HubSettings::from_environment();
  EXPECT_EQ(settings.endpoint, "http://mirror.example");
  EXPECT_EQ(settings.cache_dir, fs::path("/tmp/rbench-cache/hub"));
  EXPECT_EQ(settings.token, "t");
  EXPECT_TRUE(settings.offline);
}

// Suites whose data is on the Hub load from it when no local data directory is given.
class SuiteFromHubTest : public HubClientTest {
 protected:
  SuiteFromHubTest() {
    environment.set("HF_ENDPOINT", hub.endpoint())
        .set("RBENCH_CACHE", cache.path().string())
        .set("RBENCH_OFFLINE", std::nullopt)
        .set("RBENCH_DATA", std::nullopt)
        .set("HF_TOKEN", std::nullopt);
  }
  testing::ScopedEnvironment environment;
};

std::string math_line(const std::string& question, const std::string& answer, const std::string& id) {
  return nlohmann::json{{"problem", question}, {"solution", "$\\boxed{" + answer + "}$"}, {"answer", answer},
                        {"subject", "Algebra"},  {"level", 1},                             {"unique_id", id}}
             .dump() +
         "\n";
}

TEST_F(SuiteFromHubTest, Math500) {
  hub.add("/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl",
          math_line("1+1?", "2", "test/algebra/1.json") + math_line("2+3?", "5", "test/algebra/2.json"));
  const auto suite = open_suite("math500", {});
  ASSERT_EQ(suite->problems().size(), 2u);
  EXPECT_EQ(suite->problems()[1].gold, "5");
  EXPECT_TRUE(fs::exists(cache.path() / "hub" / "HuggingFaceH4" / "MATH-500" / "main" / "test.jsonl"));
  open_suite("math500", {});
  EXPECT_EQ(hub.requests().size(), 1u) << "the second load is served from the cache";
}

std::string lite_line(const std::string& id, const std::string& date) {
  return nlohmann::json{{"question_title", id},
                        {"question_content", "Question " + id},
                        {"platform", "atcoder"},
                        {"question_id", id},
                        {"contest_id", id.substr(0, 6)},
                        {"contest_date", date},
                        {"starter_code", ""},
                        {"difficulty", "medium"},
                        {"public_test_cases", R"([{"input": "1\n", "output": "1\n", "testtype": "stdin"}])"},
                        {"private_test_cases", R"([{"input": "2\n", "output": "2\n", "testtype": "stdin"}])"},
                        {"metadata", "{}"}}
             .dump() +
         "\n";
}

TEST_F(SuiteFromHubTest, LiveCodeBenchTakesTheWindowOfTheReleaseFiles) {
  const std::string base = "/datasets/livecodebench/code_generation_lite/resolve/main/";
  hub.add(base + "test3.jsonl",
          lite_line("abc360_a", "2024-07-01T00:00:00") + lite_line("abc364_a", "2024-08-03T00:00:00"));
  hub.add(base + "test4.jsonl", lite_line("abc370_a", "2024-09-07T00:00:00"));
  hub.add(base + "test5.jsonl",
          lite_line("abc390_a", "2025-02-08T00:00:00") + lite_line("abc387_a", "2025-01-04T00:00:00"));
  const auto suite = open_suite("livecodebench", {});
  ASSERT_EQ(suite->problems().size(), 3u);
  EXPECT_EQ(suite->problems()[0].id, "abc364_a");
  EXPECT_EQ(suite->problems()[1].id, "abc370_a");
  EXPECT_EQ(suite->problems()[2].id, "abc387_a");
  EXPECT_EQ(suite->problems()[2].metadata["public_test_cases"][0]["input"], "1\n");
  EXPECT_EQ(suite->problems()[2].metadata["release_date"], "2025-01-04");
  EXPECT_EQ(suite->render(suite->problems()[0], 0).messages.at(0).content,
            livecodebench_prompt("Question abc364_a", ""));
  EXPECT_EQ(hub.requests().size(), 3u);
}

}  // namespace
}  // namespace rbench
