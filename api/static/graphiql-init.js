// Starts GraphiQL on the page served at GET /graphql (no inline script: the page's CSP forbids it).
(function () {
  "use strict";
  var endpoint = window.location.pathname;
  var wsScheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: wsScheme + window.location.host + endpoint,
  });
  var defaultQuery = [
    "# Where does an actor stand on a topic, as of a date,",
    "# and since when? (Set the variables below; keys: query actors, topics.)",
    "# Mutations need an API key: under Headers add",
    "# {\"Authorization\": \"Bearer KEY\"}",
    "query Position($actor: String!, $topic: String!, $asOf: Date) {",
    "  position(actor: $actor, topic: $topic, asOf: $asOf) {",
    "    stance",
    "    since { date precision }",
    "    claim {",
    "      id summary quote",
    "      statedOn { date precision }",
    "      source { title publisher }",
    "      passage { exact }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    })
  );
})();
