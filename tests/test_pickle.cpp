// The minimal unpickler and LiveCodeBench's published test-case encodings. Every pickle below is the
// output of CPython 3.11's pickle.dumps, written out as a C++ literal.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "suites/livecodebench.h"
#include "suites/pickle.h"

namespace rbench {
namespace {

using namespace std::string_literals;  // the literals hold NUL bytes

const std::string kJson = R"([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}])";

TEST(Unpickle, Protocol4And5FramedShortString) {
  // pickle.dumps('[{"input": "1 2\\n", "output": "3\\n", "testtype": "stdin"}]', protocol=4)
  const std::string protocol4 = "\x80\x04\x95\x3e\x00\x00\x00\x00\x00\x00\x00\x8c\x3a"s + kJson + "\x94."s;
  EXPECT_EQ(unpickle_string(protocol4), kJson);
  // the same with protocol=5
  const std::string protocol5 = "\x80\x05\x95\x3e\x00\x00\x00\x00\x00\x00\x00\x8c\x3a"s + kJson + "\x94."s;
  EXPECT_EQ(unpickle_string(protocol5), kJson);
}

TEST(Unpickle, Protocol2And3BinUnicodeWithBinPut) {
  // pickle.dumps('[{"input": "1 2\\n", "output": "3\\n", "testtype": "stdin"}]', protocol=2)
  const std::string protocol2 = "\x80\x02X\x3a\x00\x00\x00"s + kJson + "q\x00."s;
  EXPECT_EQ(unpickle_string(protocol2), kJson);
  const std::string protocol3 = "\x80\x03X\x3a\x00\x00\x00"s + kJson + "q\x00."s;
  EXPECT_EQ(unpickle_string(protocol3), kJson);
}

TEST(Unpickle, BinUnicodeInsideAFrame) {
  // pickle.dumps('x' * 300, protocol=4): a frame of 0x133 bytes holding BINUNICODE of 300 bytes
  const std::string pickle =
      "\x80\x04\x95\x33\x01\x00\x00\x00\x00\x00\x00X\x2c\x01\x00\x00"s + std::string(300, 'x') + "\x94."s;
  EXPECT_EQ(unpickle_string(pickle), std::string(300, 'x'));
}

TEST(Unpickle, LargeStringOutsideAnyFrame) {
  // pickle.dumps('y' * 70000, protocol=4): payloads over 64 KiB are written without a frame:
  // b'\x80\x04Xp\x11\x01\x00' + b'y' * 70000 + b'\x94.'
  const std::string pickle = "\x80\x04Xp\x11\x01\x00"s + std::string(70000, 'y') + "\x94."s;
  EXPECT_EQ(unpickle_string(pickle), std::string(70000, 'y'));
}

TEST(Unpickle, Utf8Text) {
  // pickle.dumps('é∑', protocol=4)
  const std::string pickle = "\x80\x04\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8c\x05\xc3\xa9\xe2\x88\x91\x94."s;
  EXPECT_EQ(unpickle_string(pickle), "\xc3\xa9\xe2\x88\x91");
}

TEST(Unpickle, RejectsAnythingButOneString) {
  // pickle.dumps(5, protocol=4)
  EXPECT_THROW(unpickle_string("\x80\x04K\x05."s), UserError);
  // pickle.dumps(['a'], protocol=4)
  EXPECT_THROW(unpickle_string("\x80\x04\x95\x08\x00\x00\x00\x00\x00\x00\x00]\x94\x8c\x01"
                               "a\x94"
                               "a."s),
               UserError);
  EXPECT_THROW(unpickle_string("\x80\x04\x8c\x05"
                               "ab"s),
               UserError);  // truncated
  EXPECT_THROW(unpickle_string("\x80\x04\x8c\x01"
                               "a\x94"s),
               UserError);  // no STOP
  EXPECT_THROW(unpickle_string("\x80\x04\x8c\x01"
                               "a\x8c\x01"
                               "b."s),
               UserError);  // two values
  EXPECT_THROW(unpickle_string("\x80\x04\x8c\x01"
                               "a.junk"s),
               UserError);  // bytes after STOP
  EXPECT_THROW(unpickle_string("\x80\x01\x8c\x01"
                               "a."s),
               UserError);  // protocol 1
  try {
    unpickle_string("\x80\x04K\x05."s);
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("0x4b"), std::string::npos) << error.what();
  }
}

TEST(LiveCodeBenchTests, DecodesThePublishedCompressedPickle) {
  // tests = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"},
  //          {"input": "1\n5\n", "output": "5\n", "testtype": "stdin"}]
  // base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()   # CPython 3.11
  const std::string field =
      "eJxrYJlaxwABPVXR1UqZeQWlJUpWCkrGMXmGCkYKQEpJR0Epv7QEKm4GEShJLS4pqSxIBQkVl6Rk5inV6iggaTeMyTNF12qKU2vsFD0AXywocA="
      "=";
  const nlohmann::json tests = decode_livecodebench_tests(field);
  ASSERT_EQ(tests.size(), 2u);
  EXPECT_EQ(tests[0]["input"], "3\n1 2 3\n");
  EXPECT_EQ(tests[0]["output"], "6\n");
  EXPECT_EQ(tests[1]["input"], "1\n5\n");
  EXPECT_EQ(tests[1]["testtype"], "stdin");
}

TEST(LiveCodeBenchTests, ReadsPlainJsonText) {
  const nlohmann::json tests =
      decode_livecodebench_tests(R"([{"input": "[1, 2]", "output": "3", "testtype": "functional"}])");
  ASSERT_EQ(tests.size(), 1u);
  EXPECT_EQ(tests[0]["testtype"], "functional");
}

TEST(LiveCodeBenchTests, RejectsWhatIsNeither) {
  EXPECT_THROW(decode_livecodebench_tests("not base64 at all!"), UserError);
  EXPECT_THROW(decode_livecodebench_tests("aGVsbG8="), UserError);             // base64 of "hello": not zlib
  EXPECT_THROW(decode_livecodebench_tests(R"([{"input": "1"}])"), UserError);  // no output
}

}  // namespace
}  // namespace rbench
