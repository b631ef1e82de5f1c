#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "suites/csv.h"

namespace rbench {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows read_all(std::string_view text) {
  CsvReader reader(text, "test.csv");
  Rows rows;
  std::vector<std::string> fields;
  while (reader.next(fields)) rows.push_back(fields);
  return rows;
}

std::string error_of(std::string_view text) {
  try {
    read_all(text);
  } catch (const UserError& error) {
    return error.what();
  }
  return "";
}

TEST(CsvReader, PlainFieldsAndRecordEnds) {
  EXPECT_EQ(read_all("a,b,c\n1,2,3\n"), (Rows{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(read_all("a,b\r\n1,2\r\n"), (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(read_all("a,b\n1,2"), (Rows{{"a", "b"}, {"1", "2"}}));  // no final line break
  EXPECT_EQ(read_all(""), Rows{});
}

TEST(CsvReader, EmptyFields) {
  EXPECT_EQ(read_all(",\na,,b\nc,\n"), (Rows{{"", ""}, {"a", "", "b"}, {"c", ""}}));
  EXPECT_EQ(read_all("a,"), (Rows{{"a", ""}}));
  EXPECT_EQ(read_all("\"\",x\n"), (Rows{{"", "x"}}));
}

TEST(CsvReader, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  const std::string text = "id,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"line one\nline two\r\nline three\"\n";
  EXPECT_EQ(read_all(text),
            (Rows{{"id", "text"}, {"1", "a, b"}, {"2", "say \"hi\""}, {"3", "line one\nline two\r\nline three"}}));
}

TEST(CsvReader, ReportsTheLineEachRecordStartsOn) {
  CsvReader reader("h\n\"one\ntwo\nthree\"\n\nlast\n", "f.csv");
  std::vector<std::string> fields;
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(reader.where().line, 1u);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(reader.where().line, 2u);
  ASSERT_TRUE(reader.next(fields));  // the blank line is skipped
  EXPECT_EQ(fields, std::vector<std::string>{"last"});
  EXPECT_EQ(reader.where().str(), "f.csv:6");
  EXPECT_FALSE(reader.next(fields));
}

TEST(CsvReader, StrayQuoteInsideAPlainFieldIsText) { EXPECT_EQ(read_all("5\" disk,x\n"), (Rows{{"5\" disk", "x"}})); }

TEST(CsvReader, SkipsAByteOrderMark) {
  EXPECT_EQ(read_all("\xEF\xBB\xBF"
                     "a,b\n"),
            (Rows{{"a", "b"}}));
}

TEST(CsvReader, MalformedInputNamesTheLine) {
  const std::string unterminated = error_of("a\nb\n\"open\nstill open\n");
  EXPECT_NE(unterminated.find("test.csv:3"), std::string::npos) << unterminated;
  EXPECT_NE(unterminated.find("never closed"), std::string::npos) << unterminated;
  const std::string after_quote = error_of("a\n\"x\"y,z\n");
  EXPECT_NE(after_quote.find("test.csv:2"), std::string::npos) << after_quote;
}

TEST(CsvTable, NamedColumns) {
  const CsvTable table("Question,Correct Answer\n\"What, exactly?\",42\n", "t.csv");
  ASSERT_EQ(table.rows().size(), 1u);
  EXPECT_EQ(table.columns(), (std::vector<std::string>{"Question", "Correct Answer"}));
  EXPECT_EQ(table.rows()[0]["Question"], "What, exactly?");
  EXPECT_EQ(table.rows()[0]["Correct Answer"], "42");
  try {
    (void)table.rows()[0]["Record ID"];
    FAIL() << "expected an error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("t.csv:2"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("Record ID"), std::string::npos) << error.what();
  }
}

TEST(CsvTable, RowsMustMatchTheHeader) {
  try {
    CsvTable("a,b\n1,2\n3\n", "t.csv");
    FAIL() << "expected an error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("t.csv:3"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rbench
