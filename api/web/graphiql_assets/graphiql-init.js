// Starts GraphiQL on the page served at GET /graphql (no inline script: the page's CSP forbids it).
(function () {
  "use strict";
  var endpoint = window.location.pathname;
  var wsScheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: wsScheme + window.location.host + endpoint,
  });
  // The default query and its variables come from the page (api/web/graphiql.py), so that the
  // server's tests run exactly what a first visitor sees.
  var root = document.getElementById("graphiql");
  var defaultQuery = root.dataset.defaultQuery;
  var defaultVariables = root.dataset.defaultVariables;
  var props = {
    fetcher: fetcher,
    defaultQuery: defaultQuery,
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: false,
  };
  // GraphiQL has no "default variables": its `variables` prop fills the editor and would
  // replace a returning visitor's own, so it is given only on a first visit (no stored tabs).
  if (!storedTabs()) {
    props.variables = defaultVariables;
  }
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));

  function storedTabs() {
    try {
      return window.localStorage.getItem("graphiql:tabState") !== null;
    } catch (e) {
      return false; // storage disabled: GraphiQL stores nothing either
    }
  }
})();
