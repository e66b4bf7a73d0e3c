// Functions the dashboard's AG Grid tables name in their column definitions
// ({"function": "byKey('rank__key')"}); dash-ag-grid looks them up here, nothing is eval'd.
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

function isMissing(value) {
    return value === null || value === undefined || (typeof value === "number" && isNaN(value));
}

function compareMissingLast(a, b, isDescending) {
    const ma = isMissing(a), mb = isMissing(b);
    if (ma || mb) {
        // the grid flips a descending result: flip it back, so missing stays last both ways
        return ma && mb ? 0 : (ma ? 1 : -1) * (isDescending ? -1 : 1);
    }
    return a < b ? -1 : a > b ? 1 : 0;
}

// A comparator: the cells' own values, missing ones last whichever the direction.
dagfuncs.missingLast = function (valueA, valueB, nodeA, nodeB, isDescending) {
    return compareMissingLast(valueA, valueB, isDescending);
};

// A comparator sorting a text cell by another field of its row (a text "2 (1-4)" by its
// number 2), missing ones last whichever the direction.
dagfuncs.byKey = function (key) {
    return function (valueA, valueB, nodeA, nodeB, isDescending) {
        return compareMissingLast(nodeA.data[key], nodeB.data[key], isDescending);
    };
};

// CSV header of a column: its groups' names and its own, as they read top to bottom.
dagfuncs.csvHeader = function (params) {
    const parts = [params.column.getColDef().headerName];
    for (let group = params.column.getOriginalParent(); group; group = group.getOriginalParent()) {
        const def = group.getColGroupDef();
        parts.unshift(def ? def.headerName : "");
    }
    return parts.filter(Boolean).join(" ");
};

// CSV cell: the value itself (not its display format), a markdown link as its text.
dagfuncs.csvCell = function (params) {
    const value = params.value;
    if (typeof value === "string") {
        return value.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    }
    return value;
};
