// schoolgraph's GraphiQL: the page's own endpoint, and nothing kept in the browser's storage.
// Headers (an Authorization bearer token) live only in this tab's memory: GraphiQL's storage is replaced
// by a Map, so neither tokens nor documents reach localStorage, and a reload forgets them.
(function () {
  "use strict";
  var memory = new Map();
  var storage = {
    getItem: function (key) { return memory.has(key) ? memory.get(key) : null; },
    setItem: function (key, value) { memory.set(key, String(value)); },
    removeItem: function (key) { memory.delete(key); },
    clear: function () { memory.clear(); },
    get length() { return memory.size; },
  };
  var endpoint = window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: endpoint, headers: { accept: "application/graphql-response+json" } });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      shouldPersistHeaders: false,
      defaultHeaders: '{"Authorization": "Bearer <accessToken from login>"}',
      defaultQuery:
        'mutation { login(input: {username: "teacher1", password: "..."}) { accessToken errors { code message } } }\n',
    })
  );
})();
