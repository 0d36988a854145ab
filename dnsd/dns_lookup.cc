// clang-format off
// ldns defines bool, true and false as macros unless stdbool.h came first.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

#include "dnsd/dns_lookup.h"

#include <cstdlib>

#include "common/strings.h"

namespace dnsd::dns {
namespace {

constexpr int kEdeOptionCode = 15;

std::string Owned(char* text) {
  std::string out = text ? text : "";
  free(text);
  return out;
}

Json::Value Section(ldns_rr_list* list) {
  Json::Value out(Json::arrayValue);
  for (size_t i = 0; list != nullptr && i < ldns_rr_list_rr_count(list); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT) continue;
    std::string data;
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      if (j > 0) data += ' ';
      data += Owned(ldns_rdf2str(ldns_rr_rdf(rr, j)));
    }
    Json::Value record(Json::objectValue);
    record["name"] = Owned(ldns_rdf2str(ldns_rr_owner(rr)));
    record["ttl"] = ldns_rr_ttl(rr);
    record["class"] = Owned(ldns_rr_class2str(ldns_rr_get_class(rr)));
    record["type"] = Owned(ldns_rr_type2str(ldns_rr_get_type(rr)));
    record["data"] = data;
    out.append(record);
  }
  return out;
}

}  // namespace

absl::StatusOr<Json::Value> LookupJson(const LookupRequest& request) {
  const ldns_rr_type type = ldns_get_rr_type_by_name(request.type.c_str());
  if (type == 0) return absl::InvalidArgumentError("unknown record type " + request.type);
  ldns_rdf* server = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, request.server_ip.c_str());
  if (server == nullptr)
    server = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, request.server_ip.c_str());
  if (server == nullptr) {
    return absl::InvalidArgumentError("not an IP address: " + request.server_ip);
  }
  const std::string absolute = request.name.ends_with('.') ? request.name : request.name + ".";
  ldns_rdf* qname = request.name.empty() ? nullptr : ldns_dname_new_frm_str(absolute.c_str());
  if (qname == nullptr) {
    ldns_rdf_deep_free(server);
    return absl::InvalidArgumentError("not a domain name: " + request.name);
  }
  ldns_resolver* resolver = ldns_resolver_new();
  ldns_resolver_push_nameserver(resolver, server);
  ldns_rdf_deep_free(server);
  ldns_resolver_set_port(resolver, static_cast<uint16_t>(request.port));
  ldns_resolver_set_recursive(resolver, true);
  ldns_resolver_set_usevc(resolver, request.tcp);
  ldns_resolver_set_edns_udp_size(resolver, 1232);
  ldns_resolver_set_retry(resolver, 1);
  ldns_resolver_set_timeout(resolver,
                            timeval{request.timeout_ms / 1000, (request.timeout_ms % 1000) * 1000});
  ldns_pkt* reply = ldns_resolver_query(resolver, qname, type, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_rdf_deep_free(qname);
  ldns_resolver_deep_free(resolver);
  if (reply == nullptr) {
    return absl::UnavailableError(
        common::StrCat("no answer from ", request.server_ip, ":", request.port));
  }
  Json::Value out(Json::objectValue);
  out["question"] = absolute + " " + request.type;
  out["status"] = Owned(ldns_pkt_rcode2str(ldns_pkt_get_rcode(reply)));
  out["authoritative"] = ldns_pkt_aa(reply);
  out["truncated"] = ldns_pkt_tc(reply);
  out["answer"] = Section(ldns_pkt_answer(reply));
  out["authority"] = Section(ldns_pkt_authority(reply));
  out["additional"] = Section(ldns_pkt_additional(reply));
  Json::Value ede(Json::arrayValue);
  if (ldns_edns_option_list* options = ldns_pkt_edns_get_option_list(reply)) {
    for (size_t i = 0; i < ldns_edns_option_list_get_count(options); ++i) {
      ldns_edns_option* option = ldns_edns_option_list_get_option(options, i);
      if (ldns_edns_get_code(option) != kEdeOptionCode || ldns_edns_get_size(option) < 2) continue;
      const uint8_t* data = ldns_edns_get_data(option);
      Json::Value item(Json::objectValue);
      item["code"] = data[0] << 8 | data[1];
      item["text"] =
          std::string(reinterpret_cast<const char*>(data + 2), ldns_edns_get_size(option) - 2);
      ede.append(item);
    }
    ldns_edns_option_list_deep_free(options);
  }
  out["ede"] = ede;
  ldns_pkt_free(reply);
  return out;
}

}  // namespace dnsd::dns
