#include "api/request_parsing.h"

#include <gtest/gtest.h>

#include "api/json_writer.h"

namespace dnsd::api {
namespace {

TEST(FormTest, DecodesAndMergesFirstWins) {
  Params p;
  ParseFormInto("a=1&b=x%20y+z&a=2&empty=&flag", p);
  ParseFormInto("b=body&c=%E4%B8%AD", p);
  EXPECT_EQ(p.Get("a"), "1");
  EXPECT_EQ(p.Get("b"), "x y z");
  EXPECT_EQ(p.Get("c"), "中");
  EXPECT_TRUE(p.Has("empty"));
  EXPECT_TRUE(p.Has("flag"));
  EXPECT_FALSE(p.Has("missing"));
}

TEST(FormTest, LenientWithBrokenEscapes) {
  EXPECT_EQ(UrlDecode("100%"), "100%");
  EXPECT_EQ(UrlDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(UrlDecode("a%2Bb"), "a+b");
  EXPECT_EQ(UrlDecode(UrlEncode("a b&c=d%e+\x01")), "a b&c=d%e+\x01");
}

TEST(ParamsTest, TypedReads) {
  Params p;
  ParseFormInto("port=80&bad=8o&t=TRUE&f=false&x=maybe&w=1.5&nan=nan", p);
  EXPECT_EQ(*IntParam(p, "port", 0), 80);
  EXPECT_FALSE(IntParam(p, "bad", 0).ok());
  EXPECT_EQ(*IntParam(p, "absent", 7), 7);
  EXPECT_TRUE(*BoolParam(p, "t", false));
  EXPECT_FALSE(*BoolParam(p, "f", true));
  EXPECT_FALSE(BoolParam(p, "x", true).ok());
  EXPECT_EQ(**OptionalDouble(p, "w"), 1.5);
  EXPECT_FALSE(OptionalDouble(p, "nan").ok());
  EXPECT_FALSE(RequiredParam(p, "absent").ok());
}

TEST(MetadataTest, JsonAndLegacyForms) {
  auto json = ParseMetadata(R"({"a":"1","n":2,"b":true})");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->at("a"), "1");
  EXPECT_EQ(json->at("n"), "2");
  EXPECT_EQ(json->at("b"), "true");
  auto legacy = ParseMetadata("k1=v1, k2=v2");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->at("k2"), "v2");
  EXPECT_TRUE(ParseMetadata("")->empty());
  EXPECT_FALSE(ParseMetadata("{broken").ok());
  EXPECT_FALSE(ParseMetadata(R"({"nested":{"x":1}})").ok());
  EXPECT_FALSE(ParseMetadata("[1,2]").ok());
  EXPECT_FALSE(ParseMetadata("novalue").ok());
}

TEST(BeatTest, ParsesJavaBeatInfo) {
  auto beat = ParseBeat(
      R"({"ip":"10.0.0.1","port":8080,"cluster":"c1","weight":2.0,"serviceName":"G@@s","metadata":{"a":"b"},"scheduled":false})");
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(*beat->ip, "10.0.0.1");
  EXPECT_EQ(*beat->port, 8080);
  EXPECT_EQ(*beat->cluster, "c1");
  EXPECT_EQ(beat->metadata.at("a"), "b");
  EXPECT_FALSE(ParseBeat("{").ok());
  EXPECT_FALSE(ParseBeat(R"({"port":70000})").ok());
}

TEST(JsonWriterTest, EscapesAndFormatsLikeJava) {
  JsonWriter w;
  w.BeginObject()
      .Key("s")
      .String("a\"b\\\n\x01")
      .Key("d")
      .Double(1)
      .Key("e")
      .Double(0.5)
      .Key("arr")
      .BeginArray()
      .Int(1)
      .Int(2)
      .EndArray()
      .EndObject();
  EXPECT_EQ(w.str(), R"({"s":"a\"b\\\n\u0001","d":1.0,"e":0.5,"arr":[1,2]})");
}

}  // namespace
}  // namespace dnsd::api
