// Drives a running schoolgraph server with the libraries frontends use, as they use them; prints what
// they got back as one JSON object for tests/test_clients.py to check.
//   node clients.mjs <base url> <school slug> <username> <password>
import { createHash } from "node:crypto";

import { ApolloClient, InMemoryCache, gql as apolloGql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import createUploadLink from "apollo-upload-client/createUploadLink.mjs";
import { GraphQLClient, gql } from "graphql-request";

const [base, slug, username, password] = process.argv.slice(2);
const url = `${base}/schools/${slug}/graphql`;
const out = { requests: [] };

// Every request the libraries send, as they sent it (headers and body), to check the wire format.
const recordingFetch = async (input, init = {}) => {
  const body = init.body;
  out.requests.push({
    headers: Object.fromEntries(new Headers(init.headers).entries()),
    body: typeof body === "string" ? JSON.parse(body) : body instanceof FormData ? "multipart" : null,
  });
  return fetch(input, init);
};

// graphql-request: sign in, then page through a connection with the cursors it returns.
const anonymous = new GraphQLClient(url, { fetch: recordingFetch });
const signedIn = await anonymous.request(
  gql`mutation Login($u: String!, $p: String!) {
    login(input: { username: $u, password: $p }) { accessToken errors { code } }
  }`,
  { u: username, p: password },
);
const token = signedIn.login.accessToken;
const authorization = `Bearer ${token}`;
const client = new GraphQLClient(url, { headers: { authorization }, fetch: recordingFetch });
out.pupils = [];
let after = null;
do {
  const page = await client.request(
    gql`query Pupils($after: String) {
      pupils(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
    }`,
    { after },
  );
  out.pupils.push(...page.pupils.edges.map((edge) => edge.node.id));
  after = page.pupils.pageInfo.hasNextPage ? page.pupils.pageInfo.endCursor : null;
} while (after);
try {
  await client.request(gql`{ pupils(first: 1000) { edges { cursor } } }`);
  out.badPageSize = null;
} catch (error) {
  out.badPageSize = error.response.errors[0].extensions.code;
}

// Apollo Client with apollo-upload-client's link: a File in the variables becomes a multipart request.
const upload = new ApolloClient({
  link: createUploadLink({ uri: url, headers: { authorization }, fetch: recordingFetch }),
  cache: new InMemoryCache(),
});
const file = new File(["Spellings for the week: because, could, would.\n"], "spellings.txt", { type: "text/plain" });
const uploaded = await upload.mutate({
  mutation: apolloGql`mutation Upload($input: UploadContentInput!) {
    uploadContent(input: $input) { content { id title fileName byteSize } errors { code } }
  }`,
  variables: { input: { title: "From Apollo", file } },
});
out.upload = uploaded.data.uploadContent;

// Apollo's persisted-query link: the hash alone, PersistedQueryNotFound, then the document with its hash.
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
out.requests = [];
const persisted = new ApolloClient({
  link: createPersistedQueryLink({ sha256 }).concat(
    createUploadLink({ uri: url, headers: { authorization }, fetch: recordingFetch }),
  ),
  cache: new InMemoryCache(),
});
const me = await persisted.query({ query: apolloGql`query Me { viewer { username } }` });
out.persisted = { username: me.data.viewer.username, requests: out.requests };
delete out.requests;
console.log(JSON.stringify(out));
